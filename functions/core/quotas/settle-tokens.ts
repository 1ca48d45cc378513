// Use case: turn a token reservation into the real usage of the call, after it returned.
// Vocabulary: docs/glossary.md
import type { QuotaLedger, SettleResult } from '../ports/quota-ledger';
import { assertWholeAmount } from './ledger-rules';
import type { TokenReservation } from './reserve-tokens';

/**
 * One write: reserved -= reservation, used += usage, committed += usage - reservation. Idempotent per
 * reservation id: a retried settle, or one after a release, is `not_held` and charges nothing.
 *
 * Usage beyond the reservation (a wrong prompt estimate) is never charged past it: `used` could then
 * pass the limit. The excess is recorded apart as `overrun` on the counter and returned, for the
 * caller to log; `promptTokenBound` makes it impossible with byte-level BPE tokenizers.
 *
 * @example
 * const result = await settleTokens({ ledger }, reservation, completion.usage.total_tokens);
 * if (result.status === 'settled' && result.overrun > 0) log.warn('token overrun', result);
 */
export const settleTokens = async (
  deps: { readonly ledger: QuotaLedger },
  reservation: TokenReservation,
  usedTokens: number,
): Promise<SettleResult> => {
  assertWholeAmount(usedTokens, 'usage', { min: 0 });
  // Unlimited tenants are not metered (no write): their reservation was never taken.
  if (reservation.unlimited) return { status: 'settled', charged: usedTokens, overrun: 0 };
  return deps.ledger.settle(reservation, usedTokens);
};
