// Use cases: the WebSocket `chat`, `resume` and `cancel` actions. `chat` records the run and queues it
// (the chat worker streams it); `resume` replays a run's logged frames; `cancel` ends a run.
import { cancelRun } from '../chat/cancel-run';
import type { ChatDeps } from '../chat/model';
import { quotasOf } from '../chat/model';
import { sendMessage } from '../chat/send-message';
import { ConnectionGoneError } from '../connections/errors';
import type { CancelFrame, ChatFrame, ResumeFrame } from '../connections/schemas';
import type { ConnectionNotifier } from '../ports/connection-notifier';
import type { RunStreamStore } from '../ports/run-stream-store';
import type { UsageReader } from '../ports/usage-reader';
import { checkRateLimit } from '../quotas/check-rate-limit';
import { QuotaExceededError } from '../quotas/errors';
import { promptTokenBound } from '../quotas/reserve-tokens';
import { quotaWindow } from '../quotas/windows';
import { RunNotFoundError, SessionNotFoundError } from '../sessions/errors';
import { isFinalRunStatus } from '../sessions/run-transitions';
import type { TenantRecord } from '../tenants/schemas';
import type { RunFrame } from './frames';

export interface RunActionsDeps {
  /** The chat use cases' ports; the LLM is never called here (the worker runs the run). */
  readonly chat: ChatDeps;
  readonly streams: RunStreamStore;
  readonly notifier: ConnectionNotifier;
  readonly usage: UsageReader;
}

export interface RunActionContext {
  readonly tenant: TenantRecord;
  readonly connectionId: string;
}

/** The least a run's first step reserves besides the prompt: refused up front when even that is not left. */
const MIN_ANSWER_TOKENS = 16;

/** Posts frames in order; false once the connection is gone (nothing more to do for it). */
const postAll = async (deps: RunActionsDeps, connectionId: string, frames: readonly RunFrame[]) => {
  for (const frame of frames) {
    try {
      await deps.notifier.post(connectionId, frame);
    } catch (error) {
      if (error instanceof ConnectionGoneError) return false;
      throw error;
    }
  }
  return true;
};

/** Refuses the chat (429) when the minute's requests or the month's tokens are used up; one write. */
const checkBudget = async (deps: RunActionsDeps, tenant: TenantRecord, content: string): Promise<void> => {
  const quotas = quotasOf(deps.chat, tenant);
  const clock = deps.chat.clock;
  await checkRateLimit(
    { ledger: deps.chat.ledger, clock },
    { tenantId: tenant.id, limit: quotas.requests_per_minute },
  );
  const limit = quotas.tokens_per_month;
  if (limit === null) return;
  const now = clock.now();
  const counters = await deps.usage.readCounters(tenant.id, now);
  const { used, reserved } = counters.tokens_per_month;
  const needed = promptTokenBound([content], 1) + MIN_ANSWER_TOKENS;
  if (used + reserved + needed > limit) {
    const resetsAt = quotaWindow('tokens_per_month', now).resetsAt;
    throw new QuotaExceededError(
      'tokens_per_month',
      {
        limit,
        remaining: Math.max(0, limit - used - reserved),
        resetsAt: resetsAt === null ? null : Math.floor(resetsAt.getTime() / 1000),
      },
      Math.floor(now.getTime() / 1000),
      { requested: needed },
    );
  }
};

/**
 * `resume`: subscribes the connection to the run from `after_seq`. A run still going is served by its
 * worker, which sends what was missed and then the live rest, in order, within one poll interval. A run
 * that has ended is replayed from its log here. Another tenant's (or an unknown) run: 404 `run_not_found`.
 *
 * @example
 * await resumeRun(deps, { tenant, connectionId }, { action: 'resume', run_id: 'run_1', after_seq: 12 });
 */
export const resumeRun = async (
  deps: RunActionsDeps,
  context: RunActionContext,
  frame: Pick<ResumeFrame, 'run_id' | 'after_seq'>,
): Promise<void> => {
  const tenantId = context.tenant.id;
  const run = await deps.chat.store.getRun(tenantId, frame.run_id);
  if (!run) throw new RunNotFoundError(frame.run_id);
  await deps.streams.subscribe(tenantId, run.id, {
    connectionId: context.connectionId,
    afterSeq: frame.after_seq,
  });
  // Read after subscribing: if the run was still going, its worker's last poll comes after our
  // subscription and serves us; if it had ended, we replay (a frame may then come twice: dedupe by seq).
  const { status } = await deps.streams.watch(tenantId, run.id);
  if (status === undefined || !isFinalRunStatus(status)) return;
  const frames = await deps.streams.readAfter(tenantId, run.id, frame.after_seq);
  await postAll(deps, context.connectionId, frames);
  await deps.streams.unsubscribe(tenantId, run.id, context.connectionId);
};

/** What `acceptChat` does, refusals thrown as they come. */
const startChat = async (
  deps: RunActionsDeps,
  context: RunActionContext,
  frame: Omit<ChatFrame, 'action'>,
): Promise<{ readonly runId: string; readonly duplicate: boolean }> => {
  const { tenant, connectionId } = context;
  const requestId = frame.client_request_id;
  const replay = async (runId: string) => {
    await resumeRun(deps, context, { run_id: runId, after_seq: 0 });
    return { runId, duplicate: true };
  };
  if (requestId !== undefined) {
    const existing = await deps.streams.findRequest(tenant.id, requestId);
    if (existing) return replay(existing);
  }
  await checkBudget(deps, tenant, frame.content);
  const session = await deps.chat.store.getSession(tenant.id, frame.session_id);
  if (!session) throw new SessionNotFoundError(frame.session_id);

  const runId = deps.chat.ids.newId('run');
  if (requestId !== undefined) {
    const claim = await deps.streams.claimRequest(tenant.id, requestId, runId);
    if (!claim.claimed) return replay(claim.runId);
  }
  const started: RunFrame = {
    type: 'run.started',
    run_id: runId,
    seq: 1,
    session_id: session.id,
    status: 'queued',
    step: 0,
  };
  try {
    // Logged and subscribed before the job is queued, so the worker finds both when it starts.
    await deps.streams.append(tenant.id, runId, [started]);
    await deps.streams.subscribe(tenant.id, runId, { connectionId, afterSeq: started.seq });
    await sendMessage(deps.chat, tenant, session.id, { content: frame.content, async: true }, { runId });
  } catch (error) {
    await deps.streams.discard(tenant.id, runId, requestId).catch(() => undefined);
    throw error;
  }
  await postAll(deps, connectionId, [started]);
  return { runId, duplicate: false };
};

/**
 * `chat`: answers at once with `run.started` (seq 1) and queues the run on chat-runs; the worker streams
 * the rest to this connection. The budget (requests per minute, tokens left) and the session are checked
 * before anything is written, so a refused chat leaves nothing behind. A `client_request_id` the tenant
 * used before never starts a second run: the connection is given that run's stream from its start.
 *
 * @example
 * await acceptChat(deps, { tenant, connectionId },
 *   { action: 'chat', session_id: 'ses_1', content: 'Hi', client_request_id: 'req_1' });
 */
export const acceptChat = async (
  deps: RunActionsDeps,
  context: RunActionContext,
  frame: Omit<ChatFrame, 'action'>,
): Promise<{ readonly runId: string; readonly duplicate: boolean }> => {
  try {
    return await startChat(deps, context, frame);
  } catch (error) {
    // The client gets the 429 as an error frame (answer-client-frame.ts), never through wsContext: count it.
    if (error instanceof QuotaExceededError) {
      deps.chat.metrics?.quotaRefused({ tenantId: context.tenant.id, kind: error.quota });
    }
    throw error;
  }
};

/**
 * `cancel`: the run becomes cancelled at once (one conditional write); its worker notices within one poll
 * interval, aborts the LLM call and sends `run.cancelled`, to this connection too. A finished run: 409
 * `run_not_cancellable`; another tenant's: 404.
 *
 * @example
 * await cancelRunFrame(deps, { tenant, connectionId }, { action: 'cancel', run_id: 'run_1' });
 */
export const cancelRunFrame = async (
  deps: RunActionsDeps,
  context: RunActionContext,
  frame: Pick<CancelFrame, 'run_id'>,
): Promise<void> => {
  const tenantId = context.tenant.id;
  const run = await deps.chat.store.getRun(tenantId, frame.run_id);
  if (!run) throw new RunNotFoundError(frame.run_id);
  // Subscribed before the cancel lands, so the worker's `run.cancelled` cannot slip past this connection.
  const last = await deps.streams.last(tenantId, run.id);
  const subscription = { connectionId: context.connectionId, afterSeq: last?.seq ?? 0 };
  await deps.streams.subscribe(tenantId, run.id, subscription);
  try {
    await cancelRun(deps.chat, tenantId, run.id);
  } catch (error) {
    await deps.streams.unsubscribe(tenantId, run.id, context.connectionId).catch(() => undefined);
    throw error;
  }
};
