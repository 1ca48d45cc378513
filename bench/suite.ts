// Benchmark: the test suite as CI runs it (.ci/run): HEAD cloned into a temp folder, `npm ci`, `npm test`,
// each timed, with vitest's file and test counts and its slowest files, against issue 18's 5-minute target.
import { execFileSync, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { runRecord } from './history';
import { machine, readSection, watchHost, writeSection } from './report';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/** Issue 18, item 6: `npm test` at most 5 minutes on a clean clone. */
const TARGET_SECONDS = 300;
const SLOWEST_FILES = 10;

/** Vitest's JSON report, the part read here. */
interface VitestReport {
  /** When vitest started (epoch ms). */
  readonly startTime: number;
  readonly numTotalTests: number;
  readonly numPassedTests: number;
  readonly numFailedTests: number;
  readonly numPendingTests: number;
  readonly numTodoTests?: number;
  readonly testResults: readonly { name: string; startTime: number; endTime: number; status: string }[];
}

/** Runs `command` in `cwd`, its output appended to `log`; resolves with the wall time, rejects on failure. */
const timed = (command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, log: string) =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now();
    const out = createWriteStream(log, { flags: 'a' });
    out.write(`\n$ ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.once('error', reject);
    child.once('close', (code) => {
      out.end();
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve(seconds);
      else
        reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}) after ${seconds.toFixed(0)} s`));
    });
  });

/**
 * Each test file's wall time, slowest first: as vitest's default reporter printed it (setup hooks included),
 * else from the JSON report (which counts from the first test on).
 *
 * @example
 * fileTimes(' ✓  integration  test/integration/local-sqs.test.ts (6 tests) 10194ms', [], '/tmp/x');
 * // [{ name: 'test/integration/local-sqs.test.ts', seconds: 10.194 }]
 */
const fileTimes = (
  output: string,
  files: VitestReport['testResults'],
  root: string,
): { name: string; seconds: number }[] => {
  const printed = [
    ...stripVTControlCharacters(output).matchAll(/^ [✓❯×] +\S+ +(test\/\S+) \(\d+ tests?[^)]*\) (\d+)ms$/gmu),
  ].map((match) => ({ name: match[1]!, seconds: Number(match[2]) / 1000 }));
  const times =
    printed.length > 0
      ? printed
      : files.map((file) => ({
          name: path.relative(root, file.name),
          seconds: (file.endTime - file.startTime) / 1000,
        }));
  return times.sort((a, b) => b.seconds - a.seconds);
};

const tail = (file: string, lines: number): string =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';

/**
 * Measures the suite on a clean clone of HEAD. Environment:
 * - `BENCH_SUITE_PROJECT=unit` runs one vitest project only: a dry run, printed, not written to BENCHMARKS.md;
 * - `BENCH_SUITE_LINK_MODULES=1` links this checkout's node_modules instead of `npm ci` (a dry run too);
 * - `BENCH_SUITE_SHARED_TMP=1` keeps the machine's temp dir, as `.ci/run` does (a cached model and tsx's
 *   transform cache may then be warm); by default the run gets an empty one, the worst case.
 *
 * @example
 * // npm run bench -- suite
 * await runSuiteBench();
 */
export const runSuiteBench = async (): Promise<void> => {
  const project = process.env.BENCH_SUITE_PROJECT;
  const linkModules = process.env.BENCH_SUITE_LINK_MODULES === '1';
  const dryRun = Boolean(project) || linkModules;
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const work = mkdtempSync(path.join(tmpdir(), 'tenantic-suite-'));
  const clone = path.join(work, 'tenantic');
  // By default its own temp dir, so no model cache or transform cache from another run makes it look fast.
  const sharedTmp = process.env.BENCH_SUITE_SHARED_TMP === '1';
  const temp = path.join(work, 'tmp');
  mkdirSync(temp);
  const log = path.join(work, 'suite.log');
  const report = path.join(work, 'vitest.json');
  const env = { ...process.env, ...(sharedTmp ? {} : { TMPDIR: temp }), CI: '1' };
  const host = machine();
  const workers = Math.max(1, availableParallelism() - 1);
  const watched = watchHost();
  try {
    execFileSync('git', ['clone', '--quiet', '--no-checkout', REPO_ROOT, clone], { stdio: 'inherit' });
    execFileSync('git', ['-C', clone, 'checkout', '--quiet', '--detach', commit], { stdio: 'inherit' });
    process.stdout.write(`suite: ${commit.slice(0, 7)} cloned into ${clone}; output in ${log}\n`);
    let ciSeconds: number | undefined;
    if (linkModules) symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    else ciSeconds = await timed('npm', ['ci', '--no-audit', '--no-fund'], clone, env, log);
    const vitestArgs = [
      ...(project ? ['--project', project] : []),
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
    ];
    const testSeconds = await timed('npm', ['test', '--', ...vitestArgs], clone, env, log);
    const testEnded = Date.now();
    const vitest = JSON.parse(readFileSync(report, 'utf8')) as VitestReport;
    const files = vitest.testResults;
    const vitestSeconds = (testEnded - vitest.startTime) / 1000;
    const slowest = fileTimes(readFileSync(log, 'utf8'), files, clone).slice(0, SLOWEST_FILES);
    const hostPace = watched.pace();
    const s = (seconds: number) => `${seconds.toFixed(0)} s`;
    const verdict = testSeconds <= TARGET_SECONDS ? 'met' : '**not met**';
    const counts = `${files.length} files, ${vitest.numTotalTests} tests (${vitest.numPassedTests} passed, ${vitest.numFailedTests} failed, ${vitest.numPendingTests + (vitest.numTodoTests ?? 0)} skipped)`;
    const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const runs = runRecord(
      readSection('suite'),
      ['run (UTC)', 'code', 'fixed CPU workload, start → end', 'npm ci', 'npm test', 'files / tests'],
      [
        when,
        commit.slice(0, 7),
        `${hostPace.start.toFixed(0)} → ${hostPace.end.toFixed(0)} ms`,
        ciSeconds === undefined ? '–' : s(ciSeconds),
        s(testSeconds),
        `${files.length} / ${vitest.numTotalTests}`,
      ],
    );
    const body = [
      '## Test suite',
      '',
      `Measured ${when.slice(0, 10)} on ${host}; ${watched.describe()}.`,
      '',
      `A clean clone of ${commit.slice(0, 7)} in a temp folder, as \`.ci/run\` does it: \`npm ci\`, then \`npm test\` ` +
        '(typecheck, lint, knip, then every vitest project), each timed on its own, ' +
        (sharedTmp
          ? "with the machine's temp dir, as `.ci/run` has it (caches from earlier runs may be warm)."
          : 'with an empty temp dir of its own (no cached model or transform from an earlier run: the worst case).'),
      '',
      `- \`npm ci\`: **${ciSeconds === undefined ? 'skipped (node_modules linked)' : s(ciSeconds)}**`,
      `- \`npm test\`: **${s(testSeconds)}**: typecheck, lint and knip ${s(testSeconds - vitestSeconds)}, then vitest ${s(vitestSeconds)} for ${counts}`,
      `- Target (issue 18): \`npm test\` ≤ ${TARGET_SECONDS} s on a clean clone: ${verdict} (${s(testSeconds)})`,
      '',
      `The ${slowest.length} slowest test files (wall time of each, its setup included; vitest runs ${workers} file${workers === 1 ? '' : 's'} ` +
        'at a time here, its default of one fewer than the cores, and the e2e files one by one):',
      '',
      '| file | wall time |',
      '| --- | ---: |',
      ...slowest.map((file) => `| ${file.name} | ${file.seconds.toFixed(1)} s |`),
      '',
      'The last runs on this machine, newest first, each beside the pace of a core during it (a higher figure is a slower, busier host):',
      '',
      runs,
    ].join('\n');
    if (dryRun) {
      process.stdout.write(
        `${body}\n\n(dry run${project ? `: --project ${project}` : ''}${linkModules ? ', node_modules linked' : ''}: BENCHMARKS.md left as it is)\n`,
      );
    } else {
      writeSection('suite', body);
      process.stdout.write(`${body}\n`);
    }
    rmSync(work, { recursive: true, force: true });
  } catch (error) {
    process.stderr.write(`${tail(log, 60)}\nsuite: ${String(error)}; kept ${work} for a look\n`);
    throw error;
  }
};
