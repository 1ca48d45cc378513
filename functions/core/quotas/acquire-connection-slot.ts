// Use case: take one of the tenant's `concurrent_connections` slots at `$connect`; give it back at `$disconnect`.
// Vocabulary: docs/glossary.md
import type { Clock } from '../ports/clock';
import type { Hold, QuotaLedger, ReleaseResult } from '../ports/quota-ledger';
import { QuotaExceededError } from './errors';
import { assertHoldId, CONNECTION_LEASE_SECONDS, counterRef, unixSeconds } from './ledger-rules';

export type ConnectionSlot =
  | { readonly unlimited: true; readonly tenantId: string; readonly connectionId: string }
  | (Hold & { readonly unlimited: false });

/**
 * API Gateway connection ids are base64 (`L0SM9cOFvHcCIhw=`); hold ids are a closed alphabet. The
 * mapping is one-to-one (`+ / =` never occur in the other direction), so two connections never share a hold.
 */
export const connectionHoldId = (connectionId: string): string =>
  `conn:${connectionId.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '.')}`;

/**
 * One conditional write on the tenant's `concurrent_connections` gauge, keyed by connection id, so a
 * retried `$connect` gets its own slot back. Throws `QuotaExceededError` (429) when every slot is taken;
 * a slot whose `$disconnect` was lost is reclaimed once its lease (2 h 5 min) has run out.
 *
 * @example
 * const slot = await acquireConnectionSlot({ ledger, clock }, { tenantId, connectionId, limit: 5 });
 * // ... and at $disconnect:
 * await releaseConnectionSlot({ ledger }, { tenantId, connectionId });
 */
export const acquireConnectionSlot = async (
  deps: { readonly ledger: QuotaLedger; readonly clock: Clock },
  input: {
    readonly tenantId: string;
    readonly connectionId: string;
    /** The tenant's `concurrent_connections`; `null` (unlimited) skips the write. */
    readonly limit: number | null;
  },
): Promise<ConnectionSlot> => {
  const holdId = connectionHoldId(input.connectionId);
  assertHoldId(holdId, 'connection_id');
  if (input.limit === null) {
    return { unlimited: true, tenantId: input.tenantId, connectionId: input.connectionId };
  }
  const now = deps.clock.now();
  const nowSeconds = unixSeconds(now);
  const ref = counterRef(input.tenantId, 'concurrent_connections', now);
  if (input.limit <= 0) {
    throw new QuotaExceededError(
      'concurrent_connections',
      { limit: 0, remaining: 0, resetsAt: null },
      nowSeconds,
    );
  }
  const { hold } = await deps.ledger.hold({
    ...ref,
    holdId,
    amount: 1,
    limit: input.limit,
    nowSeconds,
    leaseSeconds: CONNECTION_LEASE_SECONDS,
  });
  return { ...hold, unlimited: false };
};

/**
 * Gives the connection's slot back. Needs only the tenant and connection id, since `$disconnect` does not
 * carry the hold; idempotent (a repeated `$disconnect`, or one for an unlimited tenant, is `not_held`).
 *
 * @example
 * await releaseConnectionSlot({ ledger }, { tenantId, connectionId }); // { status: 'released' }
 */
export const releaseConnectionSlot = async (
  deps: { readonly ledger: QuotaLedger },
  input: { readonly tenantId: string; readonly connectionId: string },
): Promise<ReleaseResult> => {
  const holdId = connectionHoldId(input.connectionId);
  assertHoldId(holdId, 'connection_id');
  return deps.ledger.release({
    tenantId: input.tenantId,
    quota: 'concurrent_connections',
    window: null,
    resetsAt: null,
    holdId,
    amount: 1,
    expiresAt: 0,
  });
};
