// Use case: reserve the worst case of an LLM call against `tokens_per_month`, before the call.
import { randomUUID } from 'node:crypto';
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
  const countRequest = input.meter?.take({ now: () => now });
  const request = {
    ...ref,
    holdId,
    amount: input.tokens,
    limit: input.limit,
    nowSeconds,
    leaseSeconds: lease,
  };
  const { hold, standing, counted } = await deps.ledger.hold({
    ...request,
    ...(countRequest && { countRequest }),
  });
  if (input.meter && counted) input.meter.standing = counted;
  if (hold.amount >= input.tokens) return { ...hold, unlimited: false, standing };
  // The id was held already, for less than this call's worst case: a retried step whose worst case grew,
  // or an early guess whose give-back failed before a hand-off. The hold must cover the call, or usage
  // beyond it could only be recorded as overrun, never charged. The existing hold counted the request.
  const grown = await deps.ledger.grow(hold, { amount: input.tokens, limit: input.limit, nowSeconds });
  if (grown.status === 'grown') return { ...grown.hold, unlimited: false, standing: grown.standing };
  // Settled or released in between (another delivery of the same step finished with it): hold afresh.
  const again = await deps.ledger.hold(request);
  if (again.hold.amount < input.tokens) {
    throw new Error(`reserveTokens: hold ${holdId} keeps changing under this call`);
  }
  return { ...again.hold, unlimited: false, standing: again.standing };
};
