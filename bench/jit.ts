// Benchmarks: how much CPU a JVM's just-in-time compiler threads have used, read from Linux's /proc. DynamoDB
// Local is a large Java program (Jetty, an SDK model, a grammar, SQLite glue): its compiler keeps taking
// methods for thousands of requests, and while it does it takes CPU from the two cores the platform runs on,
// a start-up cost that the always-warm service the emulator stands in for never has.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** HotSpot's compiler threads, as the kernel names them (15 characters at most). */
const COMPILER_THREAD = /^C[12] CompilerThre/;

const clockTicksPerSecond = (): number => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
};

let ticksPerSecond: number | undefined;

/** A thread's user plus system CPU time in clock ticks, and its name, from its `stat` line. */
const threadStat = (stat: string): { name: string; ticks: number } | undefined => {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // After the name: state, ppid, …; utime and stime are the 12th and 13th fields from the state on.
  const fields = stat.slice(close + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? { name: stat.slice(open + 1, close), ticks } : undefined;
};

/**
 * The CPU milliseconds the JVM `pid`'s compiler threads have used since they started; undefined where it
 * cannot be known (no /proc, the process has gone). The kernel counts in clock ticks (10 ms on Linux), so
 * compare readings far enough apart. A compiler thread the JVM retired in between takes its time with it.
 *
 * @example
 * const before = jitCpuMs(emulators.dynamoDbPid);
 * await turns();
 * const compiled = (jitCpuMs(emulators.dynamoDbPid) ?? Number.NaN) - (before ?? Number.NaN);
 */
export const jitCpuMs = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined;
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  ticksPerSecond ??= clockTicksPerSecond();
  let ticks = 0;
  for (const thread of threads) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const parsed = threadStat(stat);
    if (parsed && COMPILER_THREAD.test(parsed.name)) ticks += parsed.ticks;
  }
  return (ticks * 1000) / ticksPerSecond;
};

/**
 * The compiler's CPU milliseconds per item between two `jitCpuMs` readings; undefined if either is unknown.
 *
 * @example
 * jitMsEach(before, jitCpuMs(pid), 200); // 0.25
 */
export const jitMsEach = (before: number | undefined, after: number | undefined, items: number) =>
  before === undefined || after === undefined ? undefined : (after - before) / items;
