// Use case helper: a turn of send-message (the user's message and its run) and what both of its paths,
// inline and queued, do with it: record it, queue it, give back an early admission it did not take.
// Vocabulary: docs/glossary.md
import type { HoldRequest } from '../ports/quota-ledger';
import { appendRequest } from '../sessions/append-messages';
import { SessionBusyError, SessionNotFoundError } from '../sessions/errors';
import { toRunResource } from '../sessions/model';
import type { NewMessage, RunRecord } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { type EarlyAdmission, undoEarlyAdmission } from './early-admission';
import type { ChatDeps, ChatTimeouts } from './model';
import { runExecuteEnvelope } from './run-execute-job';
import type { SendMessageOptions, SentMessage, SessionHistory } from './send-message';

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

/** A message turn once its session is read: the run it makes, not on record yet. */
export interface Turn {
  readonly deps: ChatDeps;
  readonly tenant: TenantRecord;
  readonly sessionId: string;
  readonly options: SendMessageOptions;
  /** The session and its history as the turn read them. */
  readonly found: SessionHistory;
  readonly run: RunRecord;
  /** The user's message as it is recorded (with the run's id). */
  readonly userMessage: NewMessage;
  /** The tenant's `concurrent_runs` (null: unlimited). */
  readonly slotLimit: number | null;
  /** The early admission, until the first step takes it or it is given back (then undefined). */
  early: EarlyAdmission | undefined;
}

/**
 * Gives back an early admission the first step did not take: nothing of the turn went ahead on it.
 *
 * @example
 * await undoEarly(turn);
 */
export const undoEarly = async (turn: Pick<Turn, 'deps' | 'early'>): Promise<void> => {
  const taken = turn.early;
  turn.early = undefined;
  if (taken) await undoEarlyAdmission(turn.deps, taken);
};

/**
 * Gives back the tokens of an early admission the first step did not take, for a turn that went ahead
 * without them (its run, and so its slot, may be on record): the request counts.
 *
 * @example
 * await releaseEarlyTokens(turn);
 */
export const releaseEarlyTokens = async (turn: Turn): Promise<void> => {
  const taken = turn.early;
  turn.early = undefined;
  if (!taken) return;
  turn.options.meter?.adopt(taken.counted);
  await turn.deps.ledger.release(taken.reservation).catch(() => undefined);
};

/**
 * The run and the user's message in one transaction, all or nothing (append id `<runId>:user`); with
 * `slot`, the run's concurrent-run slot is held in the same write (refused: 429, nothing written).
 * Returns the session's new last message id.
 *
 * @example
 * await recordTurn(turn, runSlotRequest(deps, tenant.id, run.id, slotLimit));
 */
export const recordTurn = async (turn: Turn, slot: HoldRequest | undefined): Promise<string> => {
  const { deps, tenant, sessionId, run } = turn;
  let lastMessageId = turn.found.session.last_message_id;
  for (let attempt = 1; ; attempt += 1) {
    const append = appendRequest(tenant.id, sessionId, `${run.id}:user`, lastMessageId, deps.clock.now(), [
      turn.userMessage,
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

/**
 * Queues the run on chat-runs and answers 202 with the run as it is on record.
 *
 * @example
 * return queueTurn(turn); // { status: 202, result: { run } }
 */
export const queueTurn = async (turn: Turn): Promise<SentMessage> => {
  const { deps, tenant, sessionId, run } = turn;
  await deps.jobs.enqueue(runExecuteEnvelope(tenant.id, run.id, sessionId));
  const current = (await deps.store.getRun(tenant.id, run.id)) ?? run;
  return { status: 202, result: { run: toRunResource(current) } };
};
