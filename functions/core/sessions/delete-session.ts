// Use case: delete a session with everything it owns: messages, runs and offloaded content.
import type { SessionDeps } from './model';
import type { DeletedSessionResource } from './schemas';

/**
 * OpenAI's delete shape. A delete interrupted half way leaves the session marked as deleting (it reads
 * as 404 from then on); deleting it again finishes the job.
 *
 * @example
 * await deleteSession(deps, 'ten_01jd...', 'ses_01jd...'); // { id, object: 'session.deleted', deleted: true }
 */
export const deleteSession = async (
  deps: SessionDeps,
  tenantId: string,
  sessionId: string,
): Promise<DeletedSessionResource> => {
  await deps.store.deleteSession(tenantId, sessionId);
  return { id: sessionId, object: 'session.deleted', deleted: true };
};
