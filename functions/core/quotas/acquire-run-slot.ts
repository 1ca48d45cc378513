// Use case: take one of the tenant's concurrent-run slots before a run starts (or resumes).
// Vocabulary: docs/glossary.md
import type { Clock } from '../ports/clock';
import type { Hold, HoldRequest, QuotaLedger, RenewResult } from '../ports/quota-ledger';
import { QuotaExceededError } from './errors';
import { assertHoldId, counterRef, leaseSeconds, MAX_LEASE_SECONDS, unixSeconds } from './ledger-rules';

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
  const request = runSlotRequest(deps, input.tenantId, input.runId, input.limit);
  if (!request) return { unlimited: true, tenantId: input.tenantId, runId: input.runId };
  const { hold } = await deps.ledger.hold({ ...request, leaseSeconds: lease });
  return { ...hold, unlimited: false };
};

/**
 * A run keeps its slot from its admission to its last transition, through hand-offs and redeliveries: the
 * longest lease, so only a run whose every delivery died loses its slot to a reclaim. (An inline turn
 * first takes it with a lease just past its invocation, renewed to this once the run is on record
 * unfinished: see `renewRunSlot`.)
 */
export const RUN_SLOT_LEASE_SECONDS = MAX_LEASE_SECONDS;

/**
 * The slot of a new run as a hold request, for the store to write with the run (one write for both);
 * undefined when the tenant's `concurrent_runs` is unlimited. A zero limit refuses at once.
 *
 * @example
 * await deps.store.createRun(run, append, { slot: runSlotRequest(deps, tenant.id, run.id, quotas.concurrent_runs) });
 */
export const runSlotRequest = (
  deps: { readonly clock: Clock },
  tenantId: string,
  runId: string,
  limit: number | null,
): HoldRequest | undefined => {
  if (limit === null) return undefined;
  assertHoldId(runId, 'run_id');
  const now = deps.clock.now();
  const nowSeconds = unixSeconds(now);
  if (limit <= 0) {
    throw new QuotaExceededError('concurrent_runs', { limit: 0, remaining: 0, resetsAt: null }, nowSeconds);
  }
  return {
    ...counterRef(tenantId, 'concurrent_runs', now),
    holdId: runId,
    amount: 1,
    limit,
    nowSeconds,
    leaseSeconds: RUN_SLOT_LEASE_SECONDS,
  };
};

/**
 * The slot a run holds, as its release needs it: the same for every run (one unit, keyed by run id), so
 * it is never stored. Releasing a run that held none (unlimited then) is a no-op.
 *
 * @example
 * await deps.ledger.release(runSlotHold(tenantId, runId));
 */
export const runSlotHold = (tenantId: string, runId: string): Hold => ({
  tenantId,
  quota: 'concurrent_runs',
  window: null,
  resetsAt: null,
  holdId: runId,
  amount: 1,
  expiresAt: 0,
});

/**
 * Gives a run's slot the full run lease from now. An inline turn takes its slot with a lease that only
 * outlives its own invocation (a crash before the run is on record leaves nothing to resume it, so the
 * slot must come back soon); once the run is on record unfinished, its slot must last as a queued run's.
 *
 * @example
 * await renewRunSlot(deps, tenantId, runId); // { status: 'renewed' }
 */
export const renewRunSlot = (
  deps: { readonly ledger: QuotaLedger; readonly clock: Clock },
  tenantId: string,
  runId: string,
): Promise<RenewResult> =>
  deps.ledger.renew(runSlotHold(tenantId, runId), unixSeconds(deps.clock.now()) + RUN_SLOT_LEASE_SECONDS);
