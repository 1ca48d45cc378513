// Local platform: function output kept under the data directory as CloudWatch would hold it: one file per
// function's log group (`logs/<function-id>.log`, every line as printed), and the EMF records of all
// functions in `logs/metrics.jsonl`, one JSON record per line, for a tester to query what the metrics
// and alarms would see.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LogSink } from './lambda-runtime';

/** The data directory's entry for function output (wiped by a fresh start). */
export const LOGS_DIR = 'logs';

/**
 * A LogSink that appends to `<dataDir>/logs/`.
 *
 * @example
 * const log = teeLogSinks(consoleLogSink, dataDirLogSink('.tenantic'));
 */
export const dataDirLogSink = (dataDir: string): LogSink => {
  const dir = join(dataDir, LOGS_DIR);
  mkdirSync(dir, { recursive: true });
  return (functionId, _stream, line) => {
    appendFileSync(join(dir, `${functionId}.log`), `${line}\n`);
    if (line.startsWith('{"_aws":')) appendFileSync(join(dir, 'metrics.jsonl'), `${line}\n`);
  };
};

/** Each line to every sink, in order. */
export const teeLogSinks =
  (...sinks: readonly LogSink[]): LogSink =>
  (functionId, stream, line) => {
    for (const sink of sinks) sink(functionId, stream, line);
  };
