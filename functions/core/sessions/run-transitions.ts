// Core: which run status may follow which, so a run never completes twice or leaves a final state.
import type { RunStatus } from './schemas';

/**
 * For each target status, the statuses it may be reached from. `in_progress → in_progress` lets the worker
 * record progress and lets a redelivered message resume its run; the final states have no way out.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: [],
  in_progress: ['queued', 'in_progress', 'requires_action'],
  requires_action: ['in_progress'],
  completed: ['in_progress'],
  failed: ['queued', 'in_progress', 'requires_action'],
  cancelled: ['queued', 'in_progress', 'requires_action'],
};

const FINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

export const isFinalRunStatus = (status: RunStatus): boolean => FINAL_RUN_STATUSES.includes(status);
