// Benchmarks: writes one section of BENCHMARKS.md between its markers, leaving the other sections as they are.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FILE = path.resolve(import.meta.dirname, '..', 'BENCHMARKS.md');
const HEADER = `# Benchmarks

Figures written by \`npm run bench\` (bench/); each section says when and on what it was measured.
Targets come from the issues; tests never assert timings, these figures are where speed is judged.
`;

/** One line naming the machine, so figures from different machines are never compared blindly. */
export const machine = (): string =>
  `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${os
    .loadavg()
    .map((load) => load.toFixed(1))
    .join(' / ')} at the start (figures on a loaded machine are upper bounds)`;

/** The kernel's CPU counters (jiffies): total, and the part the hypervisor gave to other guests (steal). */
const cpuCounters = (): { total: number; steal: number } | undefined => {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      ?.trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    if (!fields || fields.length < 8 || fields.some(Number.isNaN)) return undefined;
    return { total: fields.reduce((sum, value) => sum + value, 0), steal: fields[7] ?? 0 };
  } catch {
    return undefined;
  }
};

/**
 * Starts watching how much CPU time the host took away (Linux's `steal`): on a shared VM this, more than
 * the load average, says whether latencies are the code's or the neighbours'. `stolen()` describes the
 * share since the start, or says it cannot be known here.
 *
 * @example
 * const steal = watchCpuSteal(); await measure(); steal.stolen(); // '3.1% of CPU time stolen by the host'
 */
const watchCpuSteal = (): { stolen(): string } => {
  const start = cpuCounters();
  return {
    stolen: () => {
      const end = cpuCounters();
      if (!start || !end || end.total <= start.total) return 'CPU steal unknown (no /proc/stat)';
      const share = ((end.steal - start.steal) / (end.total - start.total)) * 100;
      return `${share.toFixed(1)}% of CPU time stolen by the host during the run`;
    },
  };
};

/** A fixed piece of CPU work (hashing and JSON, as a request handler does): milliseconds, best of three. */
const paceOnce = (): number => {
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < 100_000; i += 1) {
    sink += createHash('sha256').update(`pace-${i}`).digest()[0] ?? 0;
    sink += (JSON.parse(JSON.stringify({ i, list: [1, 2, 3], text: 'pace' })) as { i: number }).i & 1;
  }
  if (sink < 0) throw new Error('unreachable');
  return performance.now() - started;
};

const pace = (): number => Math.min(paceOnce(), paceOnce(), paceOnce());

/**
 * Times the same fixed CPU work now and when `paced()` is called. On a shared VM the speed of a core
 * changes from one hour to the next (by a third on the machine these figures come from), so two runs'
 * latencies are only comparable with their pace beside them; a pace that changed during the run says the
 * run's own figures are mixed.
 *
 * @example
 * const cpu = watchCpuPace(); await measure(); cpu.paced(); // { start: 301, end: 305 }
 */
const watchCpuPace = (): { paced(): { start: number; end: number } } => {
  const start = pace();
  return { paced: () => ({ start, end: pace() }) };
};

/**
 * What the host did while a benchmark ran: the CPU time it took away, and the pace of a core at the start
 * and at the end. Start it before the measurement; the first of `describe()` or `pace()` after it takes
 * the end reading, and both report that one.
 *
 * @example
 * const host = watchHost(); await measure(); host.describe(); // '0.4% of CPU time stolen …; a fixed CPU workload took …'
 * host.pace(); // { start: 301, end: 305 }
 */
export const watchHost = (): { describe(): string; pace(): { start: number; end: number } } => {
  const cpu = watchCpuPace();
  const steal = watchCpuSteal();
  let reading: { stolen: string; pace: { start: number; end: number } } | undefined;
  const read = () => {
    reading ??= { stolen: steal.stolen(), pace: cpu.paced() };
    return reading;
  };
  return {
    describe: () => {
      const { stolen, pace } = read();
      return `${stolen}; a fixed CPU workload took ${pace.start.toFixed(0)} ms at the start, ${pace.end.toFixed(0)} ms at the end`;
    },
    pace: () => read().pace,
  };
};

/**
 * The commit the figures were measured on (short hash), marked when the working tree held other changes
 * (BENCHMARKS.md itself aside); 'unknown' outside a git checkout.
 *
 * @example
 * codeVersion(); // '28326be' or '28326be + changes'
 */
export const codeVersion = (): string => {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: path.dirname(FILE),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const changed = git('status', '--porcelain', '--untracked-files=no')
      .split('\n')
      .some((line) => line.trim() !== '' && !line.endsWith('BENCHMARKS.md'));
    return changed ? `${commit} + changes` : commit;
  } catch {
    return 'unknown';
  }
};

/** BENCHMARKS.md as it is now, or a fresh file's header. */
const currentFile = (): string => (existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER);

/** Where section `name` lies in `text`: its markers, and their offsets (undefined: no such section). */
const locateSection = (text: string, name: string) => {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  return { start, end, found: from >= 0 && to > from ? { from, to } : undefined };
};

/** The body of section `name` as BENCHMARKS.md has it now; undefined when there is none yet. */
export const readSection = (name: string): string | undefined => {
  const current = currentFile();
  const { start, found } = locateSection(current, name);
  return found && current.slice(found.from + start.length, found.to);
};

export const writeSection = (name: string, body: string): void => {
  const current = currentFile();
  const { start, end, found } = locateSection(current, name);
  const section = `${start}\n${body.trim()}\n${end}`;
  const next = found
    ? `${current.slice(0, found.from)}${section}${current.slice(found.to + end.length)}`
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, next);
};

export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
