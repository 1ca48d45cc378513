// Use case: `POST /v1/sessions/{id}/messages`: record the user's message and a run, then answer inline
// when the run finishes before the sync deadline, or continue it on the chat-runs queue (202).
import { NotFoundError } from '../errors';
import { runSlotRequest } from '../quotas/acquire-run-slot';
import { releaseTokens } from '../quotas/release-tokens';
import type { RequestMeter } from '../quotas/request-meter';
import { reserveTokens, type TokenReservation } from '../quotas/reserve-tokens';
import { SessionNotFoundError } from '../sessions/errors';
import { newRunRecord, unixSeconds } from '../sessions/model';
import type { TenantRecord } from '../tenants/schemas';
import { answerInline } from './answer-inline';
import { buildContext } from './build-context';
import { type EarlyAdmission, earlyAdmissionHolds } from './early-admission';
import { queueTurn, recordTurn, type Turn, undoEarly } from './message-turn';
import { reservationTokens } from './metered-step';
import { type ChatDeps, loadSessionHistory, nowMs, quotasOf, toChatMessage } from './model';
import { modelLimits } from './model-limits';
import type { SendMessageRequest, SendMessageResult } from './schemas';
import { stepPlan } from './step-plan';

export { recoveryDelaySeconds } from './message-turn';

export interface SentMessage {
  /** 200: the run finished in time; 202: it continues on the queue. */
  readonly status: 200 | 202;
  readonly result: SendMessageResult;
}

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

/**
 * Checks before any write (unknown session → 404, unknown files → 404). Inline, the first step holds its
 * tokens (counting the request) and the run's slot at once, before anything is written, so a refusal
 * (429, a message too long for the context) leaves nothing behind; the step's transaction then writes
 * the run, the user's message and the answer together. A run left unfinished on record (a first step
 * that calls tools, a hand-off, a failure) has a delayed recovery job queued first. The loop stops at
 * `timeouts.syncDeadlineMs`, aborting an LLM call in flight; what it did is on record and the queued job
 * resumes from there. A run that fails inline answers with its error (502/504 for the model).
 * The steps: `keepEarlyIfItFits` → `readSession` → `refuseFiles` → `newTurn` → `queueAtOnce` (async) or
 * `answerInline` (answer-inline.ts).
 *
 * @example
 * const { status, result } = await sendMessage(deps, tenant, sessionId, { content: 'What is 2+2?' });
 * // 200 { message: { role: 'assistant', ... }, run: { status: 'completed', ... } }
 */
export const sendMessage = async (
  deps: ChatDeps,
  tenant: TenantRecord,
  sessionId: string,
  body: SendMessageRequest,
  options: SendMessageOptions = {},
): Promise<SentMessage> => {
  const startedAt = nowMs(deps);
  const early = await keepEarlyIfItFits(deps, tenant, body, options.early);
  const found = await readSession(deps, tenant, sessionId, options.loaded, early);
  refuseFiles(body);
  const turn = newTurn({ deps, tenant, sessionId, options, found, early }, body);
  if (body.async) return queueAtOnce(turn);
  return answerInline(turn, startedAt + deps.timeouts.syncDeadlineMs);
};

/**
 * The early admission, if the turn can use it: inline, with no files, under the quotas it assumed;
 * otherwise it is given back and the turn is admitted as if there were none.
 */
const keepEarlyIfItFits = async (
  deps: ChatDeps,
  tenant: TenantRecord,
  body: SendMessageRequest,
  early: EarlyAdmission | undefined,
): Promise<EarlyAdmission | undefined> => {
  if (!early) return undefined;
  if (!body.async && body.file_ids === undefined && earlyAdmissionHolds(early, quotasOf(deps, tenant)))
    return early;
  await undoEarly({ deps, early });
  return undefined;
};

/**
 * The session and its history in one read (unless the caller read it); the model's context window bounds
 * how much is loaded. No session: 404, and the early admission goes back.
 */
const readSession = async (
  deps: ChatDeps,
  tenant: TenantRecord,
  sessionId: string,
  loaded: SessionHistory | null | undefined,
  early: EarlyAdmission | undefined,
): Promise<SessionHistory> => {
  let found: SessionHistory | null | undefined;
  try {
    found = loaded === undefined ? await loadSessionContext(deps, tenant.id, sessionId) : loaded;
  } catch (error) {
    await undoEarly({ deps, early });
    throw error;
  }
  if (found) return found;
  await undoEarly({ deps, early });
  throw new SessionNotFoundError(sessionId);
};

/** No file is ever ready before the files routes exist; say so per file rather than ignore them. */
const refuseFiles = (body: SendMessageRequest): void => {
  const [firstFile] = body.file_ids ?? [];
  if (firstFile !== undefined) {
    throw new NotFoundError('file_not_found', `No file with id '${firstFile}'`, { param: 'file_ids[0]' });
  }
};

/** The turn's run (its id the early admission's, the caller's, or a new one) and the user's message. */
const newTurn = (
  turn: Pick<Turn, 'deps' | 'tenant' | 'sessionId' | 'options' | 'found' | 'early'>,
  body: SendMessageRequest,
): Turn => {
  const { deps, tenant, sessionId, options, found, early } = turn;
  const run = newRunRecord({
    id: early?.runId ?? options.runId ?? deps.ids.newId('run'),
    tenantId: tenant.id,
    sessionId,
    model: found.session.model,
    // Inline, the run starts at once: created running, it needs no separate transition write.
    status: body.async ? 'queued' : 'in_progress',
    now: unixSeconds(deps.clock.now()),
  });
  return {
    ...turn,
    run,
    userMessage: { role: 'user', content: body.content, run_id: run.id },
    slotLimit: quotasOf(deps, tenant).concurrent_runs,
  };
};

/**
 * An async turn: the budget is checked before anything is written, then the run, its slot and the
 * user's message are recorded and the run queued (202).
 */
const queueAtOnce = async (turn: Turn): Promise<SentMessage> => {
  const { deps, tenant, run, slotLimit } = turn;
  const reservation = await reserveFirstStep(turn);
  try {
    await recordTurn(turn, runSlotRequest(deps, tenant.id, run.id, slotLimit));
  } catch (error) {
    await releaseTokens(deps, reservation);
    throw error;
  }
  return queueTurn(turn);
};

/**
 * The first step's worst case is held, with the request's count, under the id the worker's first step
 * reserves with, which then finds it held.
 */
const reserveFirstStep = (turn: Turn): Promise<TokenReservation> => {
  const { deps, tenant, found, options, run } = turn;
  const { session } = found;
  const plan = stepPlan(deps, tenant, session, session.model);
  const { messages } = buildContext({
    systemPrompt: session.system_prompt,
    history: [...found.history, toChatMessage(turn.userMessage)],
    ...(plan.tools && { tools: plan.tools }),
    contextTokens: plan.limits.contextTokens,
    maxTokens: plan.maxTokens,
  });
  return reserveTokens(deps, {
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
};
