// Use case: give a concurrent-run slot back when the run ends, however it ends.
// Vocabulary: docs/glossary.md
import type { QuotaLedger, ReleaseResult } from '../ports/quota-ledger';
import type { RunSlot } from './acquire-run-slot';

/**
 * One write; idempotent per run id, so a redelivered "run finished" never frees a second slot.
 *
 * @example
 * await releaseRunSlot({ ledger }, slot); // { status: 'released' }
 */
export const releaseRunSlot = async (
  deps: { readonly ledger: QuotaLedger },
  slot: RunSlot,
): Promise<ReleaseResult> => {
  if (slot.unlimited) return { status: 'released' };
  return deps.ledger.release(slot);
};
