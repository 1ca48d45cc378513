// Use case: record a queued run on a session, on the session's model.
import { SessionNotFoundError } from './errors';
import { type SessionDeps, toRunResource, unixSeconds } from './model';
import type { RunRecord, RunResource } from './schemas';

/**
 * @example
 * const run = await createRun(deps, tenantId, sessionId); // { status: 'queued', steps: [], ... }
 */
export const createRun = async (
  deps: SessionDeps,
  tenantId: string,
  sessionId: string,
  options: { model?: string } = {},
): Promise<RunResource> => {
  const session = await deps.store.getSession(tenantId, sessionId);
  if (!session) throw new SessionNotFoundError(sessionId);
  const now = unixSeconds(deps.clock.now());
  const run: RunRecord = {
    id: deps.ids.newId('run'),
    tenant_id: tenantId,
    session_id: sessionId,
    status: 'queued',
    model: options.model ?? session.model,
    steps: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    error: null,
    created_at: now,
    updated_at: now,
    started_at: null,
    completed_at: null,
  };
  await deps.store.createRun(run);
  return toRunResource(run);
};
