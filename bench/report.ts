// Benchmarks: writes one section of BENCHMARKS.md between its markers, leaving the other sections as they are.
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
export const watchCpuSteal = (): { stolen(): string } => {
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

export const writeSection = (name: string, body: string): void => {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const current = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  const section = `${start}\n${body.trim()}\n${end}`;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? `${current.slice(0, from)}${section}${current.slice(to + end.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, next);
};

export const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
