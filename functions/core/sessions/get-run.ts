// Use case: one run by id, within the caller's tenant.
import { RunNotFoundError } from './errors';
import { type SessionDeps, toRunResource } from './model';
import type { RunResource } from './schemas';

/**
 * @example
 * await getRun(deps, 'ten_01jd...', 'run_01jd...'); // RunResource, or RunNotFoundError (404)
 */
export const getRun = async (deps: SessionDeps, tenantId: string, runId: string): Promise<RunResource> => {
  const run = await deps.store.getRun(tenantId, runId);
  if (!run) throw new RunNotFoundError(runId);
  return toRunResource(run);
};
