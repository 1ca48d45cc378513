// Use case: `POST /v1/sessions/{id}/messages`: record the user's message and a run, then answer inline
// when the run finishes before the sync deadline, or continue it on the chat-runs queue (202).
import { NotFoundError, TenanticError } from '../errors';
import { runSlotRequest } from '../quotas/acquire-run-slot';
import { releaseTokens } from '../quotas/release-tokens';
import type { RequestMeter } from '../quotas/request-meter';
import { reserveTokens } from '../quotas/reserve-tokens';
import { appendRequest } from '../sessions/append-messages';
import { SessionBusyError, SessionNotFoundError } from '../sessions/errors';
import { newRunRecord, toRunResource, unixSeconds } from '../sessions/model';
import type { NewMessage } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { buildContext } from './build-context';
import { executeRun, stepPlan } from './execute-run';
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
 * Checks before any write (unknown session → 404, unknown files → 404). Inline, the first step reserves
 * its tokens before anything is written, so a refusal (429, a message too long for the context) leaves
 * nothing behind; then one transaction writes the run and the user message (append id `<runId>:user`),
 * after a delayed recovery job is queued. The loop stops at `timeouts.syncDeadlineMs`, aborting an LLM
 * call in flight; what it did is on record and the queued job resumes from there. A run that fails
 * inline answers with its error (502/504 for the model).
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
  // The session and its history in one read; the model's context window bounds how much is loaded.
  const found =
    options.loaded === undefined ? await loadSessionContext(deps, tenant.id, sessionId) : options.loaded;
  if (!found) throw new SessionNotFoundError(sessionId);
  const { session } = found;
  const [firstFile] = body.file_ids ?? [];
  if (firstFile !== undefined) {
    // No file is ever ready before the files routes exist; say so per file rather than ignore them.
    throw new NotFoundError('file_not_found', `No file with id '${firstFile}'`, { param: 'file_ids[0]' });
  }

  const run = newRunRecord({
    id: options.runId ?? deps.ids.newId('run'),
    tenantId: tenant.id,
    sessionId,
    model: session.model,
    // Inline, the run starts at once: created running, it needs no separate transition write.
    status: body.async ? 'queued' : 'in_progress',
    now: unixSeconds(deps.clock.now()),
  });
  const userMessage: NewMessage = { role: 'user', content: body.content, run_id: run.id };
  // The run's concurrent-run slot is held in the same write as the run: refused (429), nothing is written.
  const slot = runSlotRequest(deps, tenant.id, run.id, quotasOf(deps, tenant).concurrent_runs);
  /** The run, its session reference and the user's message: one transaction, all or nothing. */
  const save = async (): Promise<string> => {
    if (!body.async) {
      // If this invocation dies mid-run (a crash, the function's timeout), this job resumes the run once
      // the invocation is surely over; a run that ended by then makes it a no-op. Sent before the run is
      // written, so no run is ever on record without its recovery (a job whose run was never written is a
      // no-op too, one read), and after the tokens are held, so a turn refused for its budget or its rate
      // sends nothing (one refused for a concurrent-run slot, checked with the run's write, sends that no-op).
      await deps.jobs.enqueue(runExecuteEnvelope(tenant.id, run.id, sessionId), {
        delaySeconds: recoveryDelaySeconds(deps.timeouts),
      });
    }
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
      await save();
    } catch (error) {
      await releaseTokens(deps, reservation);
      throw error;
    }
    return queue();
  }

  let outcome: Awaited<ReturnType<typeof executeRun>>;
  try {
    outcome = await executeRun(deps, {
      tenant,
      runId: run.id,
      run,
      session,
      history: found.history,
      pending: { userMessage: toChatMessage({ ...userMessage, content: body.content }), save },
      handoffAtMs: startedAt + deps.timeouts.syncDeadlineMs,
      ...(options.meter && { meter: options.meter }),
    });
  } catch (error) {
    // Refused (4xx: nothing was written, or the run is on record as failed), or the store failed before
    // the run was on record: answer with it. Otherwise the worker retries from the steps on record.
    if (error instanceof TenanticError && error.statusCode < 500) throw error;
    if (!(await deps.store.getRun(tenant.id, run.id))) throw error;
    return queue();
  }
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
