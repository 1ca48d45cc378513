// Use case: give a token reservation back when the LLM call failed or never happened.
// Vocabulary: docs/glossary.md
import type { QuotaLedger, ReleaseResult } from '../ports/quota-ledger';
import type { TokenReservation } from './reserve-tokens';

/**
 * One write: reserved and committed drop by the reservation. Idempotent per reservation id: releasing
 * twice, or after a settle, is `not_held` and changes nothing.
 *
 * @example
 * await releaseTokens({ ledger }, reservation); // { status: 'released' }
 */
export const releaseTokens = async (
  deps: { readonly ledger: QuotaLedger },
  reservation: TokenReservation,
): Promise<ReleaseResult> => {
  if (reservation.unlimited) return { status: 'released' };
  return deps.ledger.release(reservation);
};
