// Use case: reserve the worst case of an LLM call against `tokens_per_month`, before the call.
// Vocabulary: docs/glossary.md
import { randomUUID } from 'node:crypto';
import { UpstreamError } from '../errors';
import type { Clock } from '../ports/clock';
import type { Hold, QuotaLedger } from '../ports/quota-ledger';
import { QuotaExceededError, type QuotaStanding } from './errors';
import { assertHoldId, assertWholeAmount, counterRef, leaseSeconds, unixSeconds } from './ledger-rules';
import { admitRequest, type RequestMeter } from './request-meter';

/**
 * What settle and release need; JSON-safe, so a run may carry it across a queue hop. `standing` is the
 * budget right after the hold, for the `x-ratelimit-*-tokens` headers (`rateLimitHeaders`).
 */
export type TokenReservation =
  | { readonly unlimited: true; readonly tenantId: string; readonly tokens: number }
  | (Hold & { readonly unlimited: false; readonly standing: QuotaStanding });

export interface ReserveTokensInput {
  readonly tenantId: string;
  /** The tenant's `tokens_per_month`; `null` (unlimited) skips the write. */
  readonly limit: number | null;
  /** The worst case: the prompt's token bound plus `max_tokens` (see `promptTokenBound`). */
  readonly tokens: number;
  /** Reuse an id (e.g. `run_…:step-2`) so a redelivered step finds its reservation instead of taking a second. */
  readonly reservationId?: string;
  /** How long a crashed caller's reservation blocks the budget; default and bounds in ledger-rules.ts. */
  readonly leaseSeconds?: number;
  /** The request's admission, when it is still to be counted: written with the hold, as one write. */
  readonly meter?: RequestMeter;
}

/**
 * A bound the real prompt tokens cannot exceed with byte-level BPE tokenizers (OpenAI's and most
 * others'): every token covers at least one UTF-8 byte, plus a few framing tokens per message.
 * Reserving with it means a settle never finds more usage than was reserved; it over-reserves for the
 * length of one call only.
 *
 * @example
 * promptTokenBound(['You are terse.', 'Hello'], 2) + maxTokens; // what to reserve
 */
export const promptTokenBound = (texts: readonly string[], messages: number): number =>
  texts.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0) + 4 * messages + 3;

/**
 * The refusal of a worst case larger than the whole monthly budget, which no write could ever admit.
 *
 * @example
 * if (tokens > limit) throw oversizedReservation(limit, resetsAt, nowSeconds, tokens);
 */
export const oversizedReservation = (
  limit: number,
  resetsAt: number | null,
  nowSeconds: number,
  tokens: number,
): QuotaExceededError =>
  new QuotaExceededError(
    'tokens_per_month',
    { limit, ...(limit === 0 && { remaining: 0 }), resetsAt },
    nowSeconds,
    { requested: tokens },
  );

/**
 * One conditional write holds `tokens` so that used + reserved never passes the limit. Throws
 * `QuotaExceededError` (429) when it would; a request larger than the whole limit is refused without a
 * write. Settle with `settleTokens` after the call, or give it back with `releaseTokens` on failure.
 *
 * @example
 * const reservation = await reserveTokens({ ledger, clock }, { tenantId, limit: 100_000, tokens: 1_500 });
 * try {
 *   const reply = await llm.complete(request);
 *   await settleTokens({ ledger }, reservation, reply.usage.total_tokens);
 * } catch (error) {
 *   await releaseTokens({ ledger }, reservation);
 *   throw error;
 * }
 */
export const reserveTokens = async (
  deps: { readonly ledger: QuotaLedger; readonly clock: Clock },
  input: ReserveTokensInput,
): Promise<TokenReservation> => {
  assertWholeAmount(input.tokens, 'tokens', { min: 1 });
  const holdId = input.reservationId ?? `res_${randomUUID()}`;
  assertHoldId(holdId, 'reservation_id');
  const lease = leaseSeconds(input.leaseSeconds);
  if (input.limit === null) {
    await admitRequest(deps, input.meter);
    return { unlimited: true, tenantId: input.tenantId, tokens: input.tokens };
  }

  const now = deps.clock.now();
  const nowSeconds = unixSeconds(now);
  const ref = counterRef(input.tenantId, 'tokens_per_month', now);
  if (input.tokens > input.limit) {
    // Could never fit this month; refusing here also keeps the ledger's condition bound non-negative.
    throw oversizedReservation(input.limit, ref.resetsAt, nowSeconds, input.tokens);
  }
  // The same instant as the hold's, so the minute counted lies in the month held.
  let countRequest = input.meter?.take({ now: () => now });
  const request = {
    ...ref,
    holdId,
    amount: input.tokens,
    limit: input.limit,
    nowSeconds,
    leaseSeconds: lease,
  };
  for (let attempt = 0; attempt < MAX_HOLD_ATTEMPTS; attempt += 1) {
    const { hold, standing, counted } = await deps.ledger.hold({
      ...request,
      ...(countRequest && { countRequest }),
    });
    if (input.meter && counted) input.meter.standing = counted;
    // Counted now, or by the write that first took a hold found under this id: never again.
    countRequest = undefined;
    const covering = await coverCall(deps.ledger, hold, standing, request);
    if (covering) return { ...covering.hold, unlimited: false, standing: covering.standing };
  }
  throw new UpstreamError(
    'quota_ledger_contention',
    `The token reservation ${holdId} kept changing under this call; try again.`,
    { statusCode: 503 },
  );
};

/** A hold found under the call's id that keeps going away is given up after this many tries (a 503). */
const MAX_HOLD_ATTEMPTS = 3;

/**
 * Makes the hold `hold` returned cover this call, or returns undefined when it went away meanwhile (settled,
 * released or reclaimed: hold afresh). A new hold covers it already. A hold found under the id (a retried or
 * redelivered step, or an inline turn's early guess whose give-back failed before a hand-off) may have been
 * taken for less, or with a shorter lease: it is renewed to this call's lease, so it is not reclaimed while
 * the call runs, and grown to its worst case, or usage beyond it could only be recorded as overrun, never
 * charged. A growth the budget cannot take is this call's 429 (`QuotaExceededError`), and the found hold
 * stays as it is until its holder, or its lease, ends it: another delivery of the same step may own it.
 */
const coverCall = async (
  ledger: QuotaLedger,
  found: Hold,
  standing: QuotaStanding,
  request: { amount: number; limit: number; nowSeconds: number; leaseSeconds: number },
): Promise<{ hold: Hold; standing: QuotaStanding } | undefined> => {
  let hold = found;
  const expiresAt = request.nowSeconds + request.leaseSeconds;
  if (hold.expiresAt < expiresAt) {
    if ((await ledger.renew(hold, expiresAt)).status === 'not_held') return undefined;
    hold = { ...hold, expiresAt };
  }
  if (hold.amount >= request.amount) return { hold, standing };
  const grown = await ledger.grow(hold, {
    amount: request.amount,
    limit: request.limit,
    nowSeconds: request.nowSeconds,
  });
  return grown.status === 'grown'
    ? { hold: { ...grown.hold, expiresAt }, standing: grown.standing }
    : undefined;
};
