// Test helper: waits on the local platform's events (a finished invocation, a log line, a settled SQS
// batch) instead of polling on a timer, with a bound that fails the test saying what never came.
import { on } from 'node:events';
import type { PlatformEventMap, PlatformEvents } from '../../local/platform-events';
import type { BatchReport } from '../../local/sqs-poller';

interface WaitOptions {
  /** The bound (default 30 s). */
  readonly timeoutMs?: number;
  /** Named in the timeout's error. */
  readonly what?: string;
}

/**
 * Resolves with the first value `check` returns (not undefined): checked once at once (`event` undefined,
 * for what already happened), then after each `name` event. Events that come while a check runs are kept,
 * and each is checked in turn, so none is missed.
 *
 * @example
 * const run = await waitOn(platform.events, 'invocation', async (report) =>
 *   report && report.functionId !== 'chat-worker' ? undefined : terminal(await getRun(id)),
 * );
 */
export const waitOn = async <K extends keyof PlatformEventMap, T>(
  events: PlatformEvents,
  name: K,
  check: (event: PlatformEventMap[K][0] | undefined) => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, what = `a ${name} event` }: WaitOptions = {},
): Promise<T> => {
  const signal = AbortSignal.timeout(timeoutMs);
  // Subscribed before the first check, so an event between the check and the loop is not lost.
  const iterator = on(events, name, { signal }) as AsyncIterableIterator<PlatformEventMap[K]>;
  try {
    const now = await check(undefined);
    if (now !== undefined) return now;
    for await (const [event] of iterator) {
      const value = await check(event);
      if (value !== undefined) return value;
    }
    throw new Error(`the platform's events ended before ${what}`);
  } catch (error) {
    if (signal.aborted) throw new Error(`no ${what} within ${timeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    await iterator.return?.();
  }
};

/**
 * The first function log line (already written or still to come) that contains every one of `parts`.
 *
 * @example
 * await logLine(platform.events, platform.logs, ['disconnected', connectionId]);
 */
export const logLine = (
  events: PlatformEvents,
  logs: readonly string[],
  parts: readonly string[],
  options: WaitOptions = {},
): Promise<string> =>
  waitOn(events, 'log', () => logs.find((line) => parts.every((part) => line.includes(part))), {
    what: `a log line with ${parts.join(' … ')}`,
    ...options,
  });

/**
 * `check` now and after each finished invocation of `functionId`: for state a function writes (a run's
 * status, a connection record), read as soon as the function that writes it has returned.
 *
 * @example
 * await afterInvocations(platform.events, 'ws-disconnect', async () => ((await count()) === 0 ? true : undefined));
 */
export const afterInvocations = <T>(
  events: PlatformEvents,
  functionId: string,
  check: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions = {},
): Promise<T> =>
  waitOn(
    events,
    'invocation',
    (report) => (report && report.functionId !== functionId ? undefined : check()),
    {
      what: `the outcome of ${functionId}`,
      ...options,
    },
  );

/**
 * Sends one SQS message with `send` (resolving with its message id) and resolves with the first settled
 * batch that held it. Batches are kept from before the send: a fast consumer may settle it before the
 * send's answer is read.
 *
 * @example
 * const batch = await sentAndSettled(platform.events, async () => (await sqs.send(command)).MessageId!);
 * expect(batch.deleted).toHaveLength(1);
 */
export const sentAndSettled = async (
  events: PlatformEvents,
  send: () => Promise<string>,
  options: WaitOptions = {},
): Promise<BatchReport> => {
  const settled: BatchReport[] = [];
  const keep = (report: BatchReport) => settled.push(report);
  events.on('batch', keep);
  try {
    const messageId = await send();
    return await waitOn(
      events,
      'batch',
      () => settled.find((report) => report.received.some((message) => message.messageId === messageId)),
      { what: `a settled batch with message ${messageId}`, ...options },
    );
  } finally {
    events.off('batch', keep);
  }
};
