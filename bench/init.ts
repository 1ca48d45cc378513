// Benchmark: every function's init time (a fresh process importing its bundle), this working tree's and,
// with BENCH_BASELINE=<commit>, that commit's too, measured alternately on the same host.
// `BENCH_BASELINE=d960750 npm run bench -- init` gives issue 18's before and after.
import { buildAtCommit, buildCurrent, type InitFigure, measureInitTimes } from './init-times';
import { codeVersion, kib, machine, watchHost, writeSection } from './report';

const DEFAULT_RUNS = 9;

export const runInitBench = async (): Promise<void> => {
  const host = machine();
  const watched = watchHost();
  const baseline = process.env.BENCH_BASELINE;
  const runs = Number(process.env.BENCH_INIT_RUNS) || DEFAULT_RUNS;
  const before = baseline ? await buildAtCommit(baseline) : undefined;
  const after = await buildCurrent();
  try {
    const [first = [], second = []] = measureInitTimes(
      before ? [before.built, after.built] : [after.built],
      runs,
    );
    const [was, now] = before ? [first, second] : [[], first];
    const byId = new Map<string, InitFigure>(was.map((figure) => [figure.id, figure]));
    const ms = (value: number | undefined) => (value === undefined ? '–' : `${Math.round(value)} ms`);
    const body = [
      '## Init time per function',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${host}; ${watched.describe()}.`,
      '',
      `Each figure: a fresh \`node --enable-source-maps\` process imports the function's bundle (as Lambda's init does, with the environment its module scope reads); median and fastest of ${runs} processes${before ? ', the two builds alternating' : ''}. Code: ${codeVersion()}${baseline ? `; before: ${baseline}, bundled as it was (no zod plugin)` : ''}.`,
      '',
      '| function | before: bundle | before: init median | before: fastest | after: bundle | after: init median | after: fastest |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...now.map((figure) => {
        const old = byId.get(figure.id);
        return `| ${figure.id} | ${old ? kib(old.bytes) : '–'} | ${ms(old?.medianMs)} | ${ms(old?.minMs)} | ${kib(figure.bytes)} | ${ms(figure.medianMs)} | ${ms(figure.minMs)} |`;
      }),
    ].join('\n');
    writeSection('init', body);
    process.stdout.write(`${body}\n`);
  } finally {
    before?.dispose();
    after.dispose();
  }
};
