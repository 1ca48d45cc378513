// Use case: record a queued run on a session, on the session's model.
import { SessionNotFoundError } from './errors';
import { newRunRecord, type SessionDeps, toRunResource, unixSeconds } from './model';
import type { RunResource } from './schemas';

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
  const run = newRunRecord({
    id: deps.ids.newId('run'),
    tenantId,
    sessionId,
    model: options.model ?? session.model,
    status: 'queued',
    now: unixSeconds(deps.clock.now()),
  });
  await deps.store.createRun(run);
  return toRunResource(run);
};
