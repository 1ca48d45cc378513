// Use case: `POST /v1/sessions/{id}/messages`: record the user's message and a run, then answer inline
// when the run finishes before the sync deadline, or continue it on the chat-runs queue (202).
import { NotFoundError, TenanticError } from '../errors';
import type { HoldRequest } from '../ports/quota-ledger';
import { acquireRunSlot, renewRunSlot, runSlotHold, runSlotRequest } from '../quotas/acquire-run-slot';
import { releaseTokens } from '../quotas/release-tokens';
import type { RequestMeter } from '../quotas/request-meter';
import { reserveTokens } from '../quotas/reserve-tokens';
import { appendRequest } from '../sessions/append-messages';
import { SessionBusyError, SessionNotFoundError } from '../sessions/errors';
import { newRunRecord, toRunResource, unixSeconds } from '../sessions/model';
import { isFinalRunStatus } from '../sessions/run-transitions';
import type { NewMessage } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { buildContext } from './build-context';
import {
  type EarlyAdmission,
  earlyAdmissionHolds,
  earlyReservation,
  undoEarlyAdmission,
} from './early-admission';
import { executeRun, type PendingTurn } from './execute-run';
import { reservationTokens } from './metered-step';
import {
  type ChatDeps,
  type ChatTimeouts,
  loadSessionHistory,
  nowMs,
  quotasOf,
  toChatMessage,
} from './model';
import { modelLimits } from './model-limits';
import { runExecuteEnvelope } from './run-execute-job';
import type { SendMessageRequest, SendMessageResult } from './schemas';
import { stepPlan } from './step-plan';

/** Attempts to record the turn when other messages keep landing in the session meanwhile. */
const MAX_SAVE_ATTEMPTS = 5;

/**
 * When the recovery job of an inline turn may run: after chat-api's own timeout (the sync deadline plus
 * the time to record progress and answer), so it never races a live inline invocation.
 *
 * @example
 * recoveryDelaySeconds(DEFAULT_CHAT_TIMEOUTS); // 35
 */
export const recoveryDelaySeconds = (timeouts: ChatTimeouts): number =>
  timeouts.recoveryDelaySeconds ?? Math.ceil(timeouts.syncDeadlineMs / 1000) + 15;

export interface SentMessage {
  /** 200: the run finished in time; 202: it continues on the queue. */
  readonly status: 200 | 202;
  readonly result: SendMessageResult;
}

/**
 * Checks before any write (unknown session → 404, unknown files → 404). Inline, the first step holds its
 * tokens (counting the request) and the run's slot at once, before anything is written, so a refusal
 * (429, a message too long for the context) leaves nothing behind; the step's transaction then writes
 * the run, the user's message and the answer together. A run left unfinished on record (a first step
 * that calls tools, a hand-off, a failure) has a delayed recovery job queued first. The loop stops at
 * `timeouts.syncDeadlineMs`, aborting an LLM call in flight; what it did is on record and the queued job
 * resumes from there. A run that fails inline answers with its error (502/504 for the model).
 *
 * @example
 * const { status, result } = await sendMessage(deps, tenant, sessionId, { content: 'What is 2+2?' });
 * // 200 { message: { role: 'assistant', ... }, run: { status: 'completed', ... } }
 */
export interface SendMessageOptions {
  /** The request's `requests_per_minute` count: inline, written with the first step's reservation. */
  readonly meter?: RequestMeter;
  /** The id the new run gets (a WebSocket chat chose it to log its first frame and claim its request). */
  readonly runId?: string;
  /**
   * The session with its history, when the caller already read it (`loadSessionContext` for this tenant
   * and session, in this request: the HTTP route reads it while the key is re-checked); null when that
   * read found no such session.
   */
  readonly loaded?: SessionHistory | null;
  /**
   * The turn's admission, taken beside its first reads under the quotas the tenant had on its last request
   * (see early-admission.ts): used when those quotas still hold and the message is inline, given back
   * otherwise. Its run id is the new run's.
   */
  readonly early?: EarlyAdmission;
  /** Told the first step's worst case in tokens when it takes the early admission (`sessionTokenBase`). */
  readonly onFirstStepTokens?: (tokens: number) => void;
}

export type SessionHistory = NonNullable<Awaited<ReturnType<typeof loadSessionHistory>>>;

/**
 * What a turn reads first: the session and as much of its history as its model's context window takes
 * (undefined when there is no such session).
 *
 * @example
 * const loaded = await loadSessionContext(deps, tenant.id, sessionId);
 */
export const loadSessionContext = (
  deps: Pick<ChatDeps, 'store'>,
  tenantId: string,
  sessionId: string,
): Promise<SessionHistory | undefined> =>
  loadSessionHistory(deps, tenantId, sessionId, (read) => modelLimits(read.model).contextTokens);

export const sendMessage = async (
  deps: ChatDeps,
  tenant: TenantRecord,
  sessionId: string,
  body: SendMessageRequest,
  options: SendMessageOptions = {},
): Promise<SentMessage> => {
  const startedAt = nowMs(deps);
  let early = options.early;
  /** Gives back an early admission the first step did not take: nothing of the turn went ahead on it. */
  const undoEarly = async () => {
    const taken = early;
    early = undefined;
    if (taken) await undoEarlyAdmission(deps, taken);
  };
  /**
   * Gives back the tokens of an early admission the first step did not take, for a turn that went ahead
   * without them (its run, and so its slot, may be on record): the request counts.
   */
  const releaseEarlyTokens = async () => {
    const taken = early;
    early = undefined;
    if (!taken) return;
    options.meter?.adopt(taken.counted);
    await deps.ledger.release(taken.reservation).catch(() => undefined);
  };
  if (
    early &&
    (body.async || body.file_ids !== undefined || !earlyAdmissionHolds(early, quotasOf(deps, tenant)))
  )
    await undoEarly();
  // The session and its history in one read; the model's context window bounds how much is loaded.
  let found: SessionHistory | null | undefined;
  try {
    found =
      options.loaded === undefined ? await loadSessionContext(deps, tenant.id, sessionId) : options.loaded;
  } catch (error) {
    await undoEarly();
    throw error;
  }
  if (!found) {
    await undoEarly();
    throw new SessionNotFoundError(sessionId);
  }
  const { session } = found;
  const [firstFile] = body.file_ids ?? [];
  if (firstFile !== undefined) {
    // No file is ever ready before the files routes exist; say so per file rather than ignore them.
    throw new NotFoundError('file_not_found', `No file with id '${firstFile}'`, { param: 'file_ids[0]' });
  }

  const run = newRunRecord({
    id: early?.runId ?? options.runId ?? deps.ids.newId('run'),
    tenantId: tenant.id,
    sessionId,
    model: session.model,
    // Inline, the run starts at once: created running, it needs no separate transition write.
    status: body.async ? 'queued' : 'in_progress',
    now: unixSeconds(deps.clock.now()),
  });
  const userMessage: NewMessage = { role: 'user', content: body.content, run_id: run.id };
  const slotLimit = quotasOf(deps, tenant).concurrent_runs;
  /**
   * The run and the user's message in one transaction, all or nothing (append id `<runId>:user`); with
   * `slot`, the run's concurrent-run slot is held in the same write (refused: 429, nothing written).
   */
  const record = async (slot: HoldRequest | undefined): Promise<string> => {
    let lastMessageId = session.last_message_id;
    for (let attempt = 1; ; attempt += 1) {
      const append = appendRequest(tenant.id, sessionId, `${run.id}:user`, lastMessageId, deps.clock.now(), [
        userMessage,
      ]);
      try {
        await deps.store.createRun(run, append, slot ? { slot } : {});
        return append.messages.at(-1)?.id as string;
      } catch (error) {
        // Another message landed since the session was read: choose ids after it and try again.
        if (!(error instanceof SessionBusyError) || attempt >= MAX_SAVE_ATTEMPTS) throw error;
        const current = await deps.store.getSession(tenant.id, sessionId);
        if (!current) throw new SessionNotFoundError(sessionId, { cause: error });
        lastMessageId = current.last_message_id;
      }
    }
  };

  const queue = async (): Promise<SentMessage> => {
    await deps.jobs.enqueue(runExecuteEnvelope(tenant.id, run.id, sessionId));
    const current = (await deps.store.getRun(tenant.id, run.id)) ?? run;
    return { status: 202, result: { run: toRunResource(current) } };
  };
  if (body.async) {
    // The budget is checked before anything is written: the first step's worst case is held, with the
    // request's count, under the id the worker's first step reserves with, which then finds it held.
    const plan = stepPlan(deps, tenant, session, session.model);
    const { messages } = buildContext({
      systemPrompt: session.system_prompt,
      history: [...found.history, toChatMessage(userMessage)],
      ...(plan.tools && { tools: plan.tools }),
      contextTokens: plan.limits.contextTokens,
      maxTokens: plan.maxTokens,
    });
    const reservation = await reserveTokens(deps, {
      tenantId: tenant.id,
      limit: quotasOf(deps, tenant).tokens_per_month,
      tokens: reservationTokens({
        model: session.model,
        messages,
        ...(plan.tools && { tools: plan.tools }),
        max_tokens: plan.maxTokens,
      }),
      reservationId: `${run.id}:step-0`,
      ...(options.meter && { meter: options.meter }),
    });
    try {
      await record(runSlotRequest(deps, tenant.id, run.id, slotLimit));
    } catch (error) {
      await releaseTokens(deps, reservation);
      throw error;
    }
    return queue();
  }

  // Inline, the holds outlive this invocation and no more: if it dies before its first write, nothing is
  // on record to resume, and they come back by themselves soon after.
  const inlineLease = recoveryDelaySeconds(deps.timeouts);
  let slotTaken = early?.slotTaken ?? false;
  /** Set before the run may first be on record unfinished: from then on, a failure must look it up. */
  let mayBeUnfinished = false;
  let recoveryQueued: Promise<void> | undefined;
  const beforeUnfinished = async () => {
    mayBeUnfinished = true;
    // The recovery job resumes the run if this invocation dies mid-run (a crash, the function's timeout),
    // once the invocation is surely over; a run that ended by then makes it a no-op (one read), and one
    // never written gives its slot back. The slot then lasts as long as a queued run's. It is unheld only
    // when the turn handed off before taking it (then `record` takes it), or after a reclaim, impossible
    // within its lease. Done once per turn (a failed attempt may be tried again).
    recoveryQueued ??= Promise.all([
      deps.jobs.enqueue(runExecuteEnvelope(tenant.id, run.id, sessionId), { delaySeconds: inlineLease }),
      slotTaken ? renewRunSlot(deps, tenant.id, run.id) : undefined,
    ]).then(() => undefined);
    try {
      await recoveryQueued;
    } catch (error) {
      recoveryQueued = undefined;
      throw error;
    }
  };
  const pending: PendingTurn = {
    userMessage,
    leaseSeconds: inlineLease,
    ...(early && {
      // The first step takes the early admission: the request was counted by its hold.
      reserve: (tokens: number) => {
        const taken = early as EarlyAdmission;
        early = undefined;
        options.onFirstStepTokens?.(tokens);
        return earlyReservation(deps, taken, tokens, options.meter);
      },
    }),
    ...(slotLimit !== null &&
      !slotTaken && {
        slot: {
          take: async () => {
            await acquireRunSlot(deps, {
              tenantId: tenant.id,
              runId: run.id,
              limit: slotLimit,
              leaseSeconds: inlineLease,
            });
            slotTaken = true;
          },
          giveBack: async () => {
            slotTaken = false;
            await deps.ledger.release(runSlotHold(tenant.id, run.id));
          },
        },
      }),
    beforeUnfinished,
    save: async () => {
      await beforeUnfinished();
      return record(slotTaken ? undefined : runSlotRequest(deps, tenant.id, run.id, slotLimit));
    },
  };

  let outcome: Awaited<ReturnType<typeof executeRun>>;
  try {
    outcome = await executeRun(deps, {
      tenant,
      runId: run.id,
      run,
      session,
      history: found.history,
      ...(found.compactBefore !== undefined && { compactBefore: found.compactBefore }),
      pending,
      handoffAtMs: startedAt + deps.timeouts.syncDeadlineMs,
      ...(options.meter && { meter: options.meter }),
    });
  } catch (error) {
    // Handed off or failed before its first step, with the run possibly on record.
    if (mayBeUnfinished) await releaseEarlyTokens();
    else if (early) {
      // Refused before its first step took the early admission (a message too long for the context).
      slotTaken = false;
      await undoEarly();
    }
    const refused = error instanceof TenanticError && error.statusCode < 500;
    // A refusal before the run could be on record unfinished (at admission, or a message too long for
    // the context) has written nothing: no read needed.
    const current = refused && !mayBeUnfinished ? undefined : await deps.store.getRun(tenant.id, run.id);
    // A failure (5xx) with the run on record: the queue (or the record, if it ended) has the rest.
    if (current && !refused) return queue();
    // Refused with the run on record unfinished (its recovery job queued first): the refusal is the
    // answer, and the run keeps its slot for the job that takes it up.
    if (current && !isFinalRunStatus(current.status)) throw error;
    // Nothing on record, or the run ended: the slot goes back now rather than when its lease ends (a
    // no-op if the run's end gave it back already).
    if (slotTaken) await deps.ledger.release(runSlotHold(tenant.id, run.id)).catch(() => undefined);
    throw error;
  }
  // Ended before its first step (out of time at once): the run keeps its slot.
  await releaseEarlyTokens();
  switch (outcome.status) {
    case 'completed':
      return { status: 200, result: { message: outcome.message, run: outcome.run } };
    case 'handoff':
      return queue();
    case 'gone':
      throw new SessionNotFoundError(sessionId);
    default:
      if (outcome.error) throw outcome.error;
      return { status: 200, result: { run: outcome.run } };
  }
};
