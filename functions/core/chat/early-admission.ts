// Use case: a metered request's admission taken early, beside the key's re-check (and an inline turn's
// first reads), under the quotas its tenant had on its last request (the re-check, which gives the current
// ones, runs at the same time). An inline turn or a chat completion then starts its LLM call one round
// trip sooner; whatever does not go ahead is undone.
// Vocabulary: docs/glossary.md
import type { Clock } from '../ports/clock';
import type { CountRequest, QuotaLedger, ReleaseOptions } from '../ports/quota-ledger';
import { acquireRunSlot, runSlotHold } from '../quotas/acquire-run-slot';
import { DEFAULT_LEASE_SECONDS, unixSeconds } from '../quotas/ledger-rules';
import { RequestMeter, type RequestStanding, requestCount } from '../quotas/request-meter';
import {
  oversizedReservation,
  promptTokenBound,
  reserveTokens,
  type TokenReservation,
} from '../quotas/reserve-tokens';
import type { Quotas } from '../quotas/schemas';
import { DEFAULT_STEP_MAX_TOKENS } from './model-limits';

/** The quotas an early admission was taken under: the turn goes ahead with it only if they still hold. */
export type AssumedQuotas = Pick<Quotas, 'tokens_per_month' | 'concurrent_runs' | 'requests_per_minute'>;

/**
 * What a first step's worst case may add to the user's message before the session is read: the system
 * prompt, the tools' schemas, the framing, and the history of a session that has one. A fresh session's
 * first step stays well inside it; a longer context grows the hold by the difference (one more write).
 */
const EARLY_CONTEXT_ALLOWANCE_TOKENS = 2_048;

/**
 * The hold taken for a message before its session is read: its byte bound, the allowance for the rest of
 * the prompt, and the largest `max_tokens` a step asks for.
 *
 * @example
 * earlyReservationTokens('How are you?'); // 12 + 7 + 2048 + 1024
 */
export const earlyReservationTokens = (content: string): number =>
  promptTokenBound([content], 1) + EARLY_CONTEXT_ALLOWANCE_TOKENS + DEFAULT_STEP_MAX_TOKENS;

/**
 * What a session's next first step will need at least, as its last turn left it: that turn's first-step
 * worst case plus a bound for the answer, which is history now. The next message's own bound is added
 * when it comes (`nextTurnTokens`). An underestimate (the session grew another way: tool results, another
 * container's turns) only costs the growth it saves; a truncated history makes it a little high, for the
 * length of one call.
 *
 * @example
 * const base = sessionTokenBase(3_500, 'Fine, thanks.'); // 3_500 + 13 + 7
 */
export const sessionTokenBase = (firstStepTokens: number, answer: string | null): number =>
  firstStepTokens + promptTokenBound([answer ?? ''], 1);

/**
 * The early guess for `content` in a session whose base (`sessionTokenBase`) is known: large enough for
 * its history, so the first step need not grow it; never below the guess for an unknown session.
 *
 * @example
 * nextTurnTokens('How are you?', base); // base + 12 + 7, or earlyReservationTokens('How are you?')
 */
const nextTurnTokens = (content: string, base: number | undefined): number =>
  Math.max(earlyReservationTokens(content), base === undefined ? 0 : base + promptTokenBound([content], 1));

export interface EarlyAdmission {
  readonly tenantId: string;
  /**
   * The run an inline turn creates: the slot is held under it, the tokens under `<runId>:step-0`. Absent
   * for a chat completion, which starts no run: its tokens are held under the completion's id.
   */
  readonly runId?: string;
  readonly quotas: AssumedQuotas & { readonly tokens_per_month: number };
  readonly reservation: TokenReservation & { readonly unlimited: false };
  /** The request's count, written with the hold (absent when its minute is unlimited). */
  readonly count?: CountRequest;
  readonly counted?: RequestStanding;
  /** Whether the run's concurrent-run slot is held (false: unlimited, or no run). */
  readonly slotTaken: boolean;
  /** The lease the hold (and the slot) were taken with: the inline turn's, or a completion's default. */
  readonly leaseSeconds: number;
}

type Deps = { readonly ledger: QuotaLedger; readonly clock: Clock };

/** A give-back that takes the request's count back too, when the hold's write made one. */
const uncounting = (count: CountRequest | undefined): ReleaseOptions => (count ? { uncount: count } : {});

/**
 * Holds `tokens` under `holdId` (counting the request in the same write) and, with `slotFor`, that run's
 * concurrent-run slot, side by side, with the given lease. Never throws: a refusal or a failure gives back
 * what was taken and returns undefined, and the request is admitted the ordinary way (which gives the
 * authoritative answer).
 */
const holdEarly = async (
  deps: Deps,
  input: {
    readonly tenantId: string;
    readonly quotas: AssumedQuotas;
    readonly tokens: number;
    readonly holdId: string;
    readonly slotFor?: string;
    readonly leaseSeconds: number;
  },
): Promise<EarlyAdmission | undefined> => {
  const { quotas, tenantId, tokens, slotFor: runId } = input;
  const tokenLimit = quotas.tokens_per_month;
  // Only where the ordinary path would hold tokens and could admit at all: the rest it refuses alone.
  if (tokenLimit === null || quotas.requests_per_minute === 0) return undefined;
  if (runId !== undefined && quotas.concurrent_runs === 0) return undefined;
  if (tokens > tokenLimit) return undefined;
  // One instant for the hold and its count, so the undo names the minute the count went into.
  const now = deps.clock.now();
  const clock = { now: () => now };
  const meter = new RequestMeter(tenantId, quotas.requests_per_minute);
  const count =
    quotas.requests_per_minute === null ? undefined : requestCount(tenantId, quotas.requests_per_minute, now);
  const [held, slot] = await Promise.allSettled([
    reserveTokens(
      { ledger: deps.ledger, clock },
      {
        tenantId,
        limit: tokenLimit,
        tokens,
        reservationId: input.holdId,
        leaseSeconds: input.leaseSeconds,
        meter,
      },
    ),
    runId === undefined || quotas.concurrent_runs === null
      ? undefined
      : acquireRunSlot(
          { ledger: deps.ledger, clock },
          { tenantId, runId, limit: quotas.concurrent_runs, leaseSeconds: input.leaseSeconds },
        ),
  ]);
  const reservation = held.status === 'fulfilled' && !held.value.unlimited ? held.value : undefined;
  const slotTaken = runId !== undefined && slot.status === 'fulfilled' && slot.value !== undefined;
  if (!reservation || slot.status === 'rejected') {
    await Promise.allSettled([
      reservation && deps.ledger.release(reservation, uncounting(count)),
      slotTaken && deps.ledger.release(runSlotHold(tenantId, runId)),
    ]);
    return undefined;
  }
  return {
    tenantId,
    ...(runId !== undefined && { runId }),
    quotas: { ...quotas, tokens_per_month: tokenLimit },
    reservation,
    ...(count && { count }),
    ...(meter.standing && { counted: meter.standing }),
    slotTaken,
    leaseSeconds: input.leaseSeconds,
  };
};

/**
 * An inline turn's admission: the first step's tokens (the request counted in the same write) and the
 * run's slot, with the inline lease. The message's session is not read yet, so the tokens are a guess
 * (`nextTurnTokens`: from the session's last turn here, if there was one) that the first step grows if its
 * real worst case is larger.
 *
 * @example
 * const early = await admitEarly(deps, { tenantId, runId, quotas, content, leaseSeconds: 35 });
 */
export const admitEarly = (
  deps: Deps,
  input: {
    readonly tenantId: string;
    readonly runId: string;
    readonly quotas: AssumedQuotas;
    readonly content: string;
    /** The session's base as its last turn here left it (`sessionTokenBase`), if known. */
    readonly sessionBase?: number;
    readonly leaseSeconds: number;
  },
): Promise<EarlyAdmission | undefined> =>
  holdEarly(deps, {
    tenantId: input.tenantId,
    quotas: input.quotas,
    tokens: nextTurnTokens(input.content, input.sessionBase),
    holdId: `${input.runId}:step-0`,
    slotFor: input.runId,
    leaseSeconds: input.leaseSeconds,
  });

/**
 * A chat completion's admission: its worst case in tokens (`completionId` names the hold) and the
 * request's count, in one write. A completion starts no run, so no slot is held; its call is metered
 * under the ordinary lease.
 *
 * @example
 * const early = await admitCompletionEarly(deps, { tenantId, completionId, quotas, tokens: 1100 });
 */
export const admitCompletionEarly = (
  deps: Deps,
  input: {
    readonly tenantId: string;
    readonly completionId: string;
    readonly quotas: AssumedQuotas;
    readonly tokens: number;
  },
): Promise<EarlyAdmission | undefined> =>
  holdEarly(deps, {
    tenantId: input.tenantId,
    quotas: input.quotas,
    tokens: input.tokens,
    holdId: input.completionId,
    leaseSeconds: DEFAULT_LEASE_SECONDS,
  });

/**
 * Whether the request may go ahead on its early admission: the tenant's current quotas are the ones it was
 * taken under (a plan changed since the last request voids it). A completion holds no slot, so only a
 * turn's admission depends on `concurrent_runs`.
 *
 * @example
 * if (!earlyAdmissionHolds(early, quotasOf(deps, tenant))) await undoEarlyAdmission(deps, early);
 */
export const earlyAdmissionHolds = (early: EarlyAdmission, quotas: AssumedQuotas): boolean =>
  early.quotas.tokens_per_month === quotas.tokens_per_month &&
  early.quotas.requests_per_minute === quotas.requests_per_minute &&
  (early.runId === undefined || early.quotas.concurrent_runs === quotas.concurrent_runs);

/**
 * Gives back everything an early admission took, the request's count included (the turn did not go
 * ahead: the ordinary path counts the request if it should). One write per hold, side by side; a
 * give-back that fails lapses at the end of its lease (the count, at the end of its minute). A count whose
 * minute has passed stays where it is, in a minute nobody is limited by any more.
 *
 * @example
 * await undoEarlyAdmission(deps, early);
 */
export const undoEarlyAdmission = async (
  deps: { readonly ledger: QuotaLedger },
  early: EarlyAdmission,
): Promise<void> => {
  await Promise.allSettled([
    deps.ledger.release(early.reservation, uncounting(early.count)),
    early.slotTaken && early.runId !== undefined
      ? deps.ledger.release(runSlotHold(early.tenantId, early.runId))
      : undefined,
  ]);
};

/**
 * The first step's reservation from an early admission, once the step knows its worst case: the hold as
 * it is when that fits in it, or grown to it (one write). The request's `meter` then adopts the count the
 * hold's write made, so that the request is counted as the ordinary path counts it:
 * - a worst case larger than the whole budget is refused before any write there, and counted on its own
 *   afterwards: here the hold goes back and its count stays;
 * - a refused growth is a refused hold there, which counts nothing: here the hold goes back with its count.
 *
 * @example
 * const reservation = await earlyReservation(deps, early, reservationTokens(request), meter);
 */
export const earlyReservation = async (
  deps: Deps,
  early: EarlyAdmission,
  tokens: number,
  meter?: RequestMeter,
): Promise<TokenReservation> => {
  const { reservation } = early;
  const limit = early.quotas.tokens_per_month;
  const nowSeconds = unixSeconds(deps.clock.now());
  if (tokens > limit) {
    meter?.adopt(early.counted);
    await deps.ledger.release(reservation).catch(() => undefined);
    throw oversizedReservation(limit, reservation.resetsAt, nowSeconds, tokens);
  }
  let grown: Awaited<ReturnType<QuotaLedger['grow']>> | undefined;
  if (tokens > reservation.amount) {
    try {
      grown = await deps.ledger.grow(reservation, { amount: tokens, limit, nowSeconds });
    } catch (error) {
      meter?.adopt(undefined);
      await deps.ledger.release(reservation, uncounting(early.count)).catch(() => undefined);
      throw error;
    }
  }
  meter?.adopt(early.counted);
  if (grown === undefined) return reservation;
  if (grown.status === 'grown') return { ...grown.hold, unlimited: false, standing: grown.standing };
  // Reclaimed: only after its lease, which outlives the invocation; hold afresh under the same id.
  return reserveTokens(deps, {
    tenantId: early.tenantId,
    limit,
    tokens,
    reservationId: reservation.holdId,
    leaseSeconds: early.leaseSeconds,
  });
};
