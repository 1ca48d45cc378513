// Use case: move a run to a new status with one conditional write, only along RUN_TRANSITIONS.
import type { RunChanges } from '../ports/session-store';
import { type SessionDeps, sumUsage, toRunResource, unixSeconds } from './model';
import { isFinalRunStatus, RUN_TRANSITIONS } from './run-transitions';
import type { RunError, RunResource, RunStatus, RunStep, Usage } from './schemas';

export interface RunStatusChange {
  readonly status: RunStatus;
  /** The steps so far (replaces the stored list); `usage` is their sum unless given. */
  readonly steps?: RunStep[];
  readonly usage?: Usage;
  /** For `failed`: the error envelope's body. */
  readonly error?: RunError;
}

/**
 * The check and the write are one conditional update, so two workers racing to complete a run cannot both
 * win: the loser gets `RunStateConflictError` (409) carrying the current status.
 *
 * @example
 * await updateRunStatus(deps, tenantId, runId, { status: 'in_progress' });
 * await updateRunStatus(deps, tenantId, runId, { status: 'completed', steps });
 * await updateRunStatus(deps, tenantId, runId, { status: 'completed' }); // RunStateConflictError
 */
export const updateRunStatus = async (
  deps: SessionDeps,
  tenantId: string,
  runId: string,
  change: RunStatusChange,
): Promise<RunResource> => {
  const now = unixSeconds(deps.clock.now());
  const usage = change.usage ?? (change.steps && sumUsage(change.steps));
  const changes: RunChanges = {
    status: change.status,
    updated_at: now,
    ...(change.status === 'in_progress' && { started_at: now }),
    ...(isFinalRunStatus(change.status) && { completed_at: now }),
    ...(change.steps && { steps: change.steps }),
    ...(usage && { usage }),
    ...(change.error && { error: change.error }),
  };
  const run = await deps.store.transitionRun(tenantId, runId, RUN_TRANSITIONS[change.status], changes);
  if (isFinalRunStatus(change.status)) deps.metrics?.runFinished({ tenantId, status: change.status });
  return toRunResource(run);
};
