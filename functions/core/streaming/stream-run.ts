// Use case: the chat worker's run, streamed: the agent loop runs as ever, and its text, tool calls and
// ending go out as the run frames of shared/API.md to every connection subscribed to the run, logged first.
import { type ExecuteRunInput, type ExecuteRunOutcome, executeRun } from '../chat/execute-run';
import { type ChatDeps, quotasOf } from '../chat/model';
import { DEAD_LETTERED_RUN_CODE } from '../chat/run-execute-job';
import { isTenanticError } from '../errors';
import type { FinalFailureHook } from '../jobs/registry';
import type { ConnectionNotifier } from '../ports/connection-notifier';
import type { RunStreamStore } from '../ports/run-stream-store';
import { acquireRunSlot, RUN_SLOT_LEASE_SECONDS, runSlotHold } from '../quotas/acquire-run-slot';
import { toRunResource } from '../sessions/model';
import { isFinalRunStatus } from '../sessions/run-transitions';
import type { MessageResource, RunError, RunRecord } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { DEFAULT_FLUSH_INTERVAL_MS, DeltaCoalescer } from './coalescer';
import { isTerminalFrame, type RunFrameBody } from './frames';
import { RunPublisher } from './run-publisher';

export interface StreamRunDeps {
  readonly chat: ChatDeps;
  readonly streams: RunStreamStore;
  readonly notifier: ConnectionNotifier;
  /** Deltas are coalesced over this interval, and the run's status and subscribers polled as often. */
  readonly flushIntervalMs?: number;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
  /** Called with each run's publisher when it is done (benchmarks count its posts). */
  readonly onPublished?: (publisher: RunPublisher) => void;
}

/** `error.code` of a run failed because its job was dead-lettered; such a run may be redriven. */
const DEAD_LETTERED_CODE = DEAD_LETTERED_RUN_CODE;

const outcomeFrames = (outcome: ExecuteRunOutcome): RunFrameBody[] => {
  switch (outcome.status) {
    case 'completed':
      return [
        { type: 'message.completed', message: outcome.message },
        { type: 'run.completed', usage: outcome.run.usage },
      ];
    case 'failed': {
      const error = outcome.run.error ?? {
        type: 'api_error',
        code: 'run_failed',
        message: 'The run failed',
        param: null,
      };
      return [{ type: 'run.failed', error: toEnvelopeError(error) }];
    }
    case 'cancelled':
      return [{ type: 'run.cancelled' }];
    default:
      return [];
  }
};

const toEnvelopeError = (error: RunError) =>
  ({ ...error, type: error.type }) as Extract<RunFrameBody, { type: 'run.failed' }>['error'];

const stepFrames = (messages: readonly MessageResource[], step: number): RunFrameBody[] => {
  const frames: RunFrameBody[] = [];
  for (const message of messages) {
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) {
        frames.push({
          type: 'tool.call',
          step,
          tool_call: { id: call.id, name: call.function.name, arguments: call.function.arguments },
        });
      }
    } else if (message.role === 'tool') {
      frames.push({
        type: 'tool.result',
        step,
        tool_call_id: message.tool_call_id ?? '',
        output: message.content ?? '',
      });
    }
  }
  return frames;
};

/**
 * Takes a dead-lettered run up again: its concurrent-run slot first (it gave its slot back when it was set
 * aside, and runs again only inside the tenant's limit), then the run back to `queued`. A refused slot is
 * thrown (a 429), so the queue delivers the job again after its backoff, and dead-letters it again, still
 * failed and redrivable, if no slot frees up meanwhile. The slot is keyed by the run, so a second delivery
 * of the same job shares it; it goes back when the revive fails, or when the run turns out to have ended.
 */
const reviveDeadLettered = async (
  deps: StreamRunDeps,
  tenant: TenantRecord,
  runId: string,
  nowSeconds: number,
): Promise<void> => {
  const { chat, streams } = deps;
  const slot = await acquireRunSlot(chat, {
    tenantId: tenant.id,
    runId,
    limit: quotasOf(chat, tenant).concurrent_runs,
    leaseSeconds: RUN_SLOT_LEASE_SECONDS,
  });
  const giveBack = async () => {
    if (!slot.unlimited) await chat.ledger.release(runSlotHold(tenant.id, runId));
  };
  let revived: boolean;
  try {
    revived = await streams.reviveRun(tenant.id, runId, DEAD_LETTERED_CODE, nowSeconds);
  } catch (error) {
    await giveBack().catch(() => undefined);
    throw error;
  }
  if (revived) return;
  // Not dead-lettered any more: another delivery revived it (and holds this very slot while it runs), or
  // the run has ended or is gone since it was read, and nothing will give the slot back but us.
  const now = await chat.store.getRun(tenant.id, runId);
  if (!now || isFinalRunStatus(now.status)) await giveBack();
};

/**
 * Runs `executeRun` with live frames. The run's stream starts with `run.started` (unless a WebSocket chat
 * logged it already), then `message.delta`s (the first at once, then coalesced every ~150 ms or by size,
 * never above a frame), `tool.call`/`tool.result` per recorded step, and one ending: `message.completed` +
 * `run.completed`, `run.failed` or `run.cancelled`. Every poll interval it reads the run's status and
 * subscribers (one Query): a cancel aborts the LLM call within that interval, and a connection that
 * subscribed meanwhile (resume) is sent what it missed, then the live rest. A run that was dead-lettered
 * is taken up again when its job is redriven.
 *
 * @example
 * const job = runExecuteJob(chatDeps, tenantStore, undefined, {
 *   execute: (chat, input) => streamRun({ chat, streams, notifier }, input),
 * });
 */
/** The frames a publisher posted, counted once it is done (one metric record per run, not per frame). */
const countFrames = (chat: ChatDeps, tenantId: string, publisher: RunPublisher): void => {
  chat.metrics?.framesPosted({ tenantId, count: publisher.postCount });
};

export const streamRun = async (deps: StreamRunDeps, input: ExecuteRunInput): Promise<ExecuteRunOutcome> => {
  const { tenant, runId } = input;
  const { chat, streams } = deps;
  const intervalMs = deps.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const nowSeconds = () => Math.floor(chat.clock.now().getTime() / 1000);

  const run = input.run ?? (await chat.store.getRun(tenant.id, runId));
  if (!run) return { status: 'gone' };
  // What the loop is handed: the run as read, unless reviving it changed it (then the loop reads it).
  let known: RunRecord | undefined = run;
  if (run.status === 'failed' && run.error?.code === DEAD_LETTERED_CODE) {
    await reviveDeadLettered(deps, tenant, runId, nowSeconds());
    known = undefined;
  }
  const [last, start] = await Promise.all([streams.last(tenant.id, runId), streams.watch(tenant.id, runId)]);
  if (start.status === undefined) return { status: 'gone' };
  const wasFinal = isFinalRunStatus(start.status);
  // Already ended, and either never streamed (an inline run's recovery job) or its ending already told (a
  // redelivered job): nothing to stream.
  if (wasFinal && (last === undefined || isTerminalFrame(last))) return executeRun(chat, { tenant, runId });
  const publisher = new RunPublisher(
    { streams, notifier: deps.notifier, ...(deps.log && { log: deps.log }) },
    tenant.id,
    runId,
    last?.seq ?? 0,
  );
  await publisher.refresh();
  if (!wasFinal && last?.type !== 'run.started') {
    // A first start, a redriven run, or a retry after a worker died mid-step: `step` tells the client to
    // drop the text it holds for that step and later ones, since they are streamed again.
    await publisher.publish([
      { type: 'run.started', session_id: run.session_id, status: 'in_progress', step: run.steps.length },
    ]);
  }

  const cancel = new AbortController();
  let step = -1;
  let coalescer: DeltaCoalescer | undefined;
  const publishDelta = (text: string, at: number) => {
    publisher.publish([{ type: 'message.delta', step: at, text }]).catch((error: unknown) => {
      deps.log?.('logging a delta failed', { run_id: runId, error });
    });
  };
  const onDelta: ExecuteRunInput['onDelta'] = (delta, index) => {
    if (delta.type !== 'text') return;
    if (index !== step || !coalescer) {
      coalescer?.flush();
      step = index;
      const at = index;
      // Each step's first text goes out at once.
      coalescer = new DeltaCoalescer((text) => publishDelta(text, at), { intervalMs });
    }
    coalescer.push(delta.text);
  };

  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    publisher
      .refresh()
      .then((watch) => {
        if (watch.status === 'cancelled') cancel.abort();
      })
      .catch((error: unknown) => deps.log?.('polling the run failed', { run_id: runId, error }))
      .finally(() => {
        polling = false;
      });
  }, intervalMs);

  let outcome: ExecuteRunOutcome;
  try {
    const { run: _asCalled, ...rest } = input;
    outcome = await executeRun(chat, {
      ...rest,
      ...(known && { run: known }),
      signal: input.signal ? AbortSignal.any([input.signal, cancel.signal]) : cancel.signal,
      onDelta,
      onStepRecorded: async (messages, index) => {
        coalescer?.flush();
        const frames = stepFrames(messages, index);
        if (frames.length > 0) await publisher.publish(frames);
      },
    });
  } catch (error) {
    clearInterval(poll);
    coalescer?.flush();
    const current = cancel.signal.aborted ? await chat.store.getRun(tenant.id, runId) : undefined;
    if (current?.status !== 'cancelled') {
      await publisher.drain().catch(() => undefined);
      countFrames(chat, tenant.id, publisher);
      throw error;
    }
    // Cancelled mid-call: the loop gave up the call; the run is on record as cancelled.
    outcome = { status: 'cancelled', run: toRunResource(current) };
  }
  clearInterval(poll);
  coalescer?.flush();
  // A connection may have resumed just as the run ended: it is told the ending too.
  await publisher.refresh();
  const ending = outcomeFrames(outcome);
  if (ending.length > 0) await publisher.publish(ending);
  await publisher.drain();
  countFrames(chat, tenant.id, publisher);
  // The run is over: a later resume subscribes again (and is replayed from the log).
  await publisher.unsubscribeAll();
  deps.onPublished?.(publisher);
  return outcome;
};

/**
 * The `onFinalFailure` of `run.execute` on the chat worker: the run's job is about to be dead-lettered, so
 * the run is marked failed (`run_dead_lettered`, with the last error's code) and its stream ends with
 * `run.failed`. Redriving the message takes the run up again (see `streamRun`).
 *
 * @example
 * runExecuteJob(chatDeps, tenantStore, undefined, { onFinalFailure: markRunDeadLettered(() => deps) });
 */
export const markRunDeadLettered =
  (deps: () => StreamRunDeps | Promise<StreamRunDeps>): FinalFailureHook =>
  async (envelope, error, context) => {
    const { chat, streams, notifier } = await deps();
    const now = Math.floor(chat.clock.now().getTime() / 1000);
    const reason = isTenanticError(error) ? error.code : 'internal_error';
    const runError: RunError = {
      type: 'api_error',
      code: DEAD_LETTERED_CODE,
      message: `The run failed ${context.receiveCount} time(s) (last: ${reason}) and was set aside for an operator; it resumes if they redrive it.`,
      param: null,
    };
    try {
      await chat.store.transitionRun(envelope.tenant_id, envelope.id, ['queued', 'in_progress'], {
        status: 'failed',
        updated_at: now,
        completed_at: now,
        error: runError,
      });
      chat.metrics?.runFinished({ tenantId: envelope.tenant_id, status: 'failed' });
      // The run is over until an operator redrives it: its concurrent-run slot goes back now.
      await chat.ledger.release(runSlotHold(envelope.tenant_id, envelope.id));
    } catch (transitionError) {
      // Already ended (or gone): nothing to mark, nothing to tell.
      if (isTenanticError(transitionError) && transitionError.statusCode < 500) return;
      throw transitionError;
    }
    const last = await streams.last(envelope.tenant_id, envelope.id);
    const publisher = new RunPublisher(
      { streams, notifier },
      envelope.tenant_id,
      envelope.id,
      last?.seq ?? 0,
    );
    await publisher.refresh();
    await publisher.publish([{ type: 'run.failed', error: toEnvelopeError(runError) }]);
    await publisher.drain();
    countFrames(chat, envelope.tenant_id, publisher);
  };
