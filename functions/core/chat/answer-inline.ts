// Use case helper: the inline path of send-message: run the turn in this invocation until the sync
// deadline, with its holds leased to outlive the invocation and no more, and answer with what it got to.
// Vocabulary: docs/glossary.md
import { TenanticError } from '../errors';
import { acquireRunSlot, renewRunSlot, runSlotHold, runSlotRequest } from '../quotas/acquire-run-slot';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { SessionNotFoundError } from '../sessions/errors';
import { isFinalRunStatus } from '../sessions/run-transitions';
import { earlyReservation } from './early-admission';
import { type ExecuteRunOutcome, executeRun, type PendingTurn } from './execute-run';
import {
  queueTurn,
  recordTurn,
  recoveryDelaySeconds,
  releaseEarlyTokens,
  type Turn,
  undoEarly,
} from './message-turn';
import { runExecuteEnvelope } from './run-execute-job';
import type { SentMessage } from './send-message';

/** An inline turn: its holds' lease, and what this invocation has done about the run's slot and record. */
interface InlineTurn extends Turn {
  /** The lease of the inline holds: they outlive this invocation and no more. */
  readonly leaseSeconds: number;
  /** This invocation holds the run's concurrent-run slot. */
  slotTaken: boolean;
  /** Set before the run may first be on record unfinished: from then on, a failure must look it up. */
  mayBeUnfinished: boolean;
  /** The recovery job, queued once per turn (a failed attempt may be tried again). */
  recoveryQueued: Promise<void> | undefined;
}

/**
 * Runs the turn inline until `handoffAtMs` and answers: 200 with the answer (or the run's end), 202 when
 * it continues on the queue. If the invocation dies before its first write, nothing is on record to
 * resume, and the holds come back by themselves soon after.
 *
 * @example
 * return answerInline(turn, startedAt + deps.timeouts.syncDeadlineMs);
 */
export const answerInline = async (turn: Turn, handoffAtMs: number): Promise<SentMessage> => {
  // The same turn object, grown by the inline state (no copy: its `early` changes as steps take it).
  const inline: InlineTurn = Object.assign(turn, {
    leaseSeconds: recoveryDelaySeconds(turn.deps.timeouts),
    slotTaken: turn.early?.slotTaken ?? false,
    mayBeUnfinished: false,
    recoveryQueued: undefined,
  });
  const { found, run } = inline;
  let outcome: ExecuteRunOutcome;
  try {
    outcome = await executeRun(inline.deps, {
      tenant: inline.tenant,
      runId: run.id,
      run,
      session: found.session,
      history: found.history,
      ...(found.compactBefore !== undefined && { compactBefore: found.compactBefore }),
      pending: pendingTurn(inline),
      handoffAtMs,
      ...(inline.options.meter && { meter: inline.options.meter }),
    });
  } catch (error) {
    return inlineFailed(inline, error);
  }
  // Ended before its first step (out of time at once): the run keeps its slot.
  await releaseEarlyTokens(inline);
  return answerOf(inline, outcome);
};

/** What the agent loop may do with the turn before it is on record (see `PendingTurn`). */
const pendingTurn = (inline: InlineTurn): PendingTurn => {
  const { slotLimit } = inline;
  return {
    userMessage: inline.userMessage,
    leaseSeconds: inline.leaseSeconds,
    // The first step takes the early admission: the request was counted by its hold.
    ...(inline.early && { reserve: (tokens: number) => takeEarlyAdmission(inline, tokens) }),
    ...(slotLimit !== null &&
      !inline.slotTaken && {
        slot: { take: () => takeSlot(inline, slotLimit), giveBack: () => giveSlotBack(inline) },
      }),
    beforeUnfinished: () => beforeUnfinished(inline),
    save: () => saveTurn(inline),
  };
};

/** Records the run and the user's message alone (a hand-off or a failure before any step is on record). */
const saveTurn = async (inline: InlineTurn): Promise<string> => {
  await beforeUnfinished(inline);
  const { deps, tenant, run, slotLimit } = inline;
  return recordTurn(
    inline,
    inline.slotTaken ? undefined : runSlotRequest(deps, tenant.id, run.id, slotLimit),
  );
};

/** The first step's reservation is the early admission's hold, grown to the step's worst case. */
const takeEarlyAdmission = (inline: InlineTurn, tokens: number): Promise<TokenReservation> => {
  const { deps, options } = inline;
  const taken = inline.early as NonNullable<Turn['early']>;
  inline.early = undefined;
  options.onFirstStepTokens?.(tokens);
  return earlyReservation(deps, taken, tokens, options.meter);
};

/** Takes the run's slot beside the first step's reservation, leased like it. */
const takeSlot = async (inline: InlineTurn, limit: number): Promise<void> => {
  await acquireRunSlot(inline.deps, {
    tenantId: inline.tenant.id,
    runId: inline.run.id,
    limit,
    leaseSeconds: inline.leaseSeconds,
  });
  inline.slotTaken = true;
};

/** Gives the slot back when the reservation beside it was refused. */
const giveSlotBack = async (inline: InlineTurn): Promise<void> => {
  inline.slotTaken = false;
  await inline.deps.ledger.release(runSlotHold(inline.tenant.id, inline.run.id));
};

/**
 * Before the run may first be on record unfinished. The recovery job resumes the run if this invocation
 * dies mid-run (a crash, the function's timeout), once the invocation is surely over; a run that ended by
 * then makes it a no-op (one read), and one never written gives its slot back. The slot then lasts as
 * long as a queued run's. It is unheld only when the turn handed off before taking it (then `recordTurn`
 * takes it), or after a reclaim, impossible within its lease. Done once per turn.
 */
const beforeUnfinished = async (inline: InlineTurn): Promise<void> => {
  const { deps, tenant, run, sessionId } = inline;
  inline.mayBeUnfinished = true;
  inline.recoveryQueued ??= Promise.all([
    deps.jobs.enqueue(runExecuteEnvelope(tenant.id, run.id, sessionId), {
      delaySeconds: inline.leaseSeconds,
    }),
    inline.slotTaken ? renewRunSlot(deps, tenant.id, run.id) : undefined,
  ]).then(() => undefined);
  try {
    await inline.recoveryQueued;
  } catch (error) {
    inline.recoveryQueued = undefined;
    throw error;
  }
};

/**
 * The loop threw: handed off or failed before its first step, with the run possibly on record. A failure
 * (5xx) with the run on record is queued; a refusal is the answer, and a slot nothing needs goes back.
 */
const inlineFailed = async (inline: InlineTurn, error: unknown): Promise<SentMessage> => {
  const { deps, tenant, run } = inline;
  if (inline.mayBeUnfinished) await releaseEarlyTokens(inline);
  else if (inline.early) {
    // Refused before its first step took the early admission (a message too long for the context).
    inline.slotTaken = false;
    await undoEarly(inline);
  }
  const refused = error instanceof TenanticError && error.statusCode < 500;
  // A refusal before the run could be on record unfinished (at admission, or a message too long for
  // the context) has written nothing: no read needed.
  const current = refused && !inline.mayBeUnfinished ? undefined : await deps.store.getRun(tenant.id, run.id);
  // A failure (5xx) with the run on record: the queue (or the record, if it ended) has the rest.
  if (current && !refused) return queueTurn(inline);
  // Refused with the run on record unfinished (its recovery job queued first): the refusal is the
  // answer, and the run keeps its slot for the job that takes it up.
  if (current && !isFinalRunStatus(current.status)) throw error;
  // Nothing on record, or the run ended: the slot goes back now rather than when its lease ends (a
  // no-op if the run's end gave it back already).
  if (inline.slotTaken) await deps.ledger.release(runSlotHold(tenant.id, run.id)).catch(() => undefined);
  throw error;
};

/** The answer to the loop's outcome: 200 with the message or the ended run, 202 when it was handed off. */
const answerOf = async (inline: InlineTurn, outcome: ExecuteRunOutcome): Promise<SentMessage> => {
  switch (outcome.status) {
    case 'completed':
      return { status: 200, result: { message: outcome.message, run: outcome.run } };
    case 'handoff':
      return queueTurn(inline);
    case 'gone':
      throw new SessionNotFoundError(inline.sessionId);
    default:
      if (outcome.error) throw outcome.error;
      return { status: 200, result: { run: outcome.run } };
  }
};
