// Local platform: what a running stage tells whoever watches it (tests, `npm start --verbose`): each finished
// invocation, each function log line, each settled SQS batch. Tests await these instead of polling.
import { EventEmitter } from 'node:events';
import type { InvocationReport } from './lambda-runtime';
import type { BatchReport } from './sqs-poller';

/** One line a function wrote, as the platform's log sink received it. */
interface FunctionLogLine {
  readonly functionId: string;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/** Event name → listener arguments. */
export interface PlatformEventMap {
  /** After the invocation's result went back to its caller (HTTP, WebSocket, SQS poller). */
  invocation: [InvocationReport];
  log: [FunctionLogLine];
  /** After the poller deleted what succeeded; what it kept becomes visible again after the timeout. */
  batch: [BatchReport];
}

/**
 * The platform's events. Emitting with no listener costs a map lookup, so the platform always emits.
 *
 * @example
 * platform.events.on('invocation', (report) => console.log(report.functionId, report.ok));
 */
export type PlatformEvents = EventEmitter<PlatformEventMap>;

/** A fresh emitter; no listener limit, as a test may wait on many things at once. */
export const createPlatformEvents = (): PlatformEvents => {
  const events = new EventEmitter<PlatformEventMap>();
  events.setMaxListeners(0);
  return events;
};
