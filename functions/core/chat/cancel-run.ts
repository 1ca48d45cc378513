// Use case: `POST /v1/runs/{id}/cancel`: a queued or running run becomes cancelled; a finished one is 409.
import type { QuotaLedger } from '../ports/quota-ledger';
import { runSlotHold } from '../quotas/acquire-run-slot';
import { RunNotFoundError, RunStateConflictError } from '../sessions/errors';
import type { SessionDeps } from '../sessions/model';
import type { RunResource } from '../sessions/schemas';
import { updateRunStatus } from '../sessions/update-run-status';
import { RunNotCancellableError } from './errors';

/**
 * One conditional write, and one more to give the run's concurrent-run slot back (with a ledger; a slot
 * never taken makes it a no-op). The agent loop notices at its next write (its step's record is conditioned on
 * the run still being in progress), so at most the step in flight finishes; its tokens are charged, since
 * they were spent.
 *
 * @example
 * await cancelRun(deps, tenantId, runId); // { status: 'cancelled', ... }, or 409 run_not_cancellable
 */
export const cancelRun = async (
  deps: SessionDeps & { readonly ledger?: QuotaLedger },
  tenantId: string,
  runId: string,
): Promise<RunResource> => {
  try {
    const cancelled = await updateRunStatus(deps, tenantId, runId, { status: 'cancelled' });
    await deps.ledger?.release(runSlotHold(tenantId, runId));
    return cancelled;
  } catch (error) {
    if (error instanceof RunStateConflictError)
      throw new RunNotCancellableError(runId, error.current, { cause: error });
    if (error instanceof RunNotFoundError) throw error;
    throw error;
  }
};
