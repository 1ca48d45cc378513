// Use case: one session by id, within the caller's tenant.
import { SessionNotFoundError } from './errors';
import { type SessionDeps, toSessionResource } from './model';
import type { SessionResource } from './schemas';

/**
 * Another tenant's session is not found, exactly like an unknown id.
 *
 * @example
 * await getSession(deps, 'ten_01jd...', 'ses_01jd...'); // SessionResource, or SessionNotFoundError (404)
 */
export const getSession = async (
  deps: SessionDeps,
  tenantId: string,
  sessionId: string,
): Promise<SessionResource> => {
  const session = await deps.store.getSession(tenantId, sessionId);
  if (!session) throw new SessionNotFoundError(sessionId);
  return toSessionResource(session);
};
