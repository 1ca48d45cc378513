// Use case: `POST /v1/runs/{id}/cancel`: a queued or running run becomes cancelled; a finished one is 409.
import { RunNotFoundError, RunStateConflictError } from '../sessions/errors';
import type { SessionDeps } from '../sessions/model';
import type { RunResource } from '../sessions/schemas';
import { updateRunStatus } from '../sessions/update-run-status';
import { RunNotCancellableError } from './errors';

/**
 * One conditional write. The agent loop notices at its next write (its step's record is conditioned on
 * the run still being in progress), so at most the step in flight finishes; its tokens are charged, since
 * they were spent.
 *
 * @example
 * await cancelRun(deps, tenantId, runId); // { status: 'cancelled', ... }, or 409 run_not_cancellable
 */
export const cancelRun = async (deps: SessionDeps, tenantId: string, runId: string): Promise<RunResource> => {
  try {
    return await updateRunStatus(deps, tenantId, runId, { status: 'cancelled' });
  } catch (error) {
    if (error instanceof RunStateConflictError)
      throw new RunNotCancellableError(runId, error.current, { cause: error });
    if (error instanceof RunNotFoundError) throw error;
    throw error;
  }
};
