import { describe, expect, it } from 'vitest';
import { KEPT_RUNS, recordedRuns, runRecord } from '../../bench/history';

const HEADER = ['run (UTC)', 'code', 'p99'] as const;

/** A section as the chat bench writes it: prose, the run record, more prose. */
const sectionWith = (record: string) => `## Chat\n\nSome figures.\n\n${record}\n\nAfter.\n`;

describe('bench run history', () => {
  it('finds no runs where there is no section or no record in it', () => {
    expect(recordedRuns(undefined)).toEqual([]);
    expect(recordedRuns('## Chat\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n')).toEqual([]);
  });

  it('starts a record with the newest run alone', () => {
    const record = runRecord(undefined, HEADER, ['2026-12-07 12:41', 'abc1234', '17.8 ms']);
    expect(record.split('\n')).toEqual([
      '<!-- runs -->',
      '| run (UTC) | code | p99 |',
      '| --- | ---: | ---: |',
      '| 2026-12-07 12:41 | abc1234 | 17.8 ms |',
      '<!-- /runs -->',
    ]);
  });

  it('puts the newest run first and keeps the earlier ones in their order', () => {
    const first = runRecord(undefined, HEADER, ['t1', 'c1', '30.1 ms']);
    const second = runRecord(sectionWith(first), HEADER, ['t2', 'c2', '20.2 ms']);
    const third = runRecord(sectionWith(second), HEADER, ['t3', 'c3', '25.3 ms']);
    expect(recordedRuns(sectionWith(third))).toEqual([
      '| t3 | c3 | 25.3 ms |',
      '| t2 | c2 | 20.2 ms |',
      '| t1 | c1 | 30.1 ms |',
    ]);
  });

  it(`keeps the newest ${KEPT_RUNS} runs only`, () => {
    let section: string | undefined;
    for (let run = 1; run <= KEPT_RUNS + 3; run += 1) {
      section = sectionWith(runRecord(section, HEADER, [`t${run}`, 'c', `${run} ms`]));
    }
    const kept = recordedRuns(section);
    expect(kept).toHaveLength(KEPT_RUNS);
    expect(kept[0]).toBe(`| t${KEPT_RUNS + 3} | c | ${KEPT_RUNS + 3} ms |`);
    expect(kept.at(-1)).toBe('| t4 | c | 4 ms |');
  });

  it('drops earlier rows of another shape instead of misreading them', () => {
    const older = runRecord(undefined, ['run (UTC)', 'p99'], ['t1', '30.1 ms']);
    const record = runRecord(sectionWith(older), HEADER, ['t2', 'c2', '20.2 ms']);
    expect(recordedRuns(sectionWith(record))).toEqual(['| t2 | c2 | 20.2 ms |']);
  });

  it('refuses a run whose cells do not match the columns', () => {
    expect(() => runRecord(undefined, HEADER, ['t1', '30.1 ms'])).toThrow(/2 cells for 3 columns/);
  });
});
