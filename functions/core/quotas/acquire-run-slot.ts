// Use case: take one of the tenant's concurrent-run slots before a run starts (or resumes).
import type { Clock } from '../ports/clock';
import type { Hold, QuotaLedger } from '../ports/quota-ledger';
import { QuotaExceededError } from './errors';
import { assertHoldId, counterRef, leaseSeconds, unixSeconds } from './ledger-rules';

export type RunSlot =
  | { readonly unlimited: true; readonly tenantId: string; readonly runId: string }
  | (Hold & { readonly unlimited: false });

/**
 * One conditional write on the tenant's `concurrent_runs` gauge, keyed by run id: a redelivered run
 * that asks again gets its own slot back rather than a second one. Throws `QuotaExceededError` (429)
 * when all slots are taken. A slot whose holder crashed is reclaimed after its lease.
 *
 * @example
 * const slot = await acquireRunSlot({ ledger, clock }, { tenantId, runId: run.id, limit: 3 });
 * try { await runAgent(run); } finally { await releaseRunSlot({ ledger }, slot); }
 */
export const acquireRunSlot = async (
  deps: { readonly ledger: QuotaLedger; readonly clock: Clock },
  input: {
    readonly tenantId: string;
    readonly runId: string;
    /** Concurrent runs allowed; `null` (unlimited) skips the write. */
    readonly limit: number | null;
    readonly leaseSeconds?: number;
  },
): Promise<RunSlot> => {
  assertHoldId(input.runId, 'run_id');
  const lease = leaseSeconds(input.leaseSeconds);
  if (input.limit === null) return { unlimited: true, tenantId: input.tenantId, runId: input.runId };
  const now = deps.clock.now();
  const nowSeconds = unixSeconds(now);
  const ref = counterRef(input.tenantId, 'concurrent_runs', now);
  if (input.limit <= 0) {
    throw new QuotaExceededError('concurrent_runs', { limit: 0, remaining: 0, resetsAt: null }, nowSeconds);
  }
  const { hold } = await deps.ledger.hold({
    ...ref,
    holdId: input.runId,
    amount: 1,
    limit: input.limit,
    nowSeconds,
    leaseSeconds: lease,
  });
  return { ...hold, unlimited: false };
};
