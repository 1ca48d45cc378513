// Benchmarks: a short record of earlier runs, kept inside a section of BENCHMARKS.md. On a shared machine
// one run's p99 moves by several milliseconds with the neighbours' load, so a section shows its last runs
// beside the newest, each with the host's pace: a verdict is read against that spread, never alone.

const START = '<!-- runs -->';
const END = '<!-- /runs -->';

/** How many runs a section keeps, the newest first. */
export const KEPT_RUNS = 10;

/**
 * The table rows (`| … |` lines) of the runs recorded between the run markers of `section`, newest first;
 * none when there is no section or no record in it yet.
 *
 * @example
 * recordedRuns('<!-- runs -->\n| when | p99 |\n| --- | ---: |\n| 2026-12-07 12:41 | 17.8 ms |\n<!-- /runs -->');
 * // ['| 2026-12-07 12:41 | 17.8 ms |']
 */
export const recordedRuns = (section: string | undefined): string[] => {
  if (section === undefined) return [];
  const from = section.indexOf(START);
  const to = section.indexOf(END);
  if (from < 0 || to < from) return [];
  const lines = section
    .slice(from + START.length, to)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('|') && line.endsWith('|'));
  // The first two table lines are the header and its rule.
  return lines.slice(2);
};

/**
 * The run record to write into a section: `header` (a table header row), its rule, then `newest` followed
 * by the runs `previous` (the section as it was) recorded, at most `KEPT_RUNS` in all. Earlier rows whose
 * number of cells differs from the header's (another table's) are dropped rather than misread.
 *
 * @example
 * runRecord(readSection('chat'), ['when', 'p99'], ['2026-12-07 12:41', '17.8 ms']);
 */
export const runRecord = (
  previous: string | undefined,
  header: readonly string[],
  newest: readonly string[],
): string => {
  if (newest.length !== header.length) {
    throw new Error(`runRecord: ${newest.length} cells for ${header.length} columns`);
  }
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const cellsOf = (line: string) => line.slice(1, -1).split('|').length;
  const earlier = recordedRuns(previous).filter((line) => cellsOf(line) === header.length);
  return [
    START,
    row(header),
    row(header.map((_, index) => (index === 0 ? '---' : '---:'))),
    row(newest),
    ...earlier.slice(0, KEPT_RUNS - 1),
    END,
  ].join('\n');
};
