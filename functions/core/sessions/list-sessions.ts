// Use case: one page of a tenant's sessions, newest first unless asked otherwise.
import { type ListEnvelope, toListEnvelope } from '../pagination';
import { type SessionDeps, toSessionResource } from './model';
import type { OrderedPageQuery, SessionResource } from './schemas';

/**
 * @example
 * const first = await listSessions(deps, tenantId, { limit: 20, order: 'desc' });
 * const next = first.has_more
 *   ? await listSessions(deps, tenantId, { limit: 20, order: 'desc', after: first.next_cursor })
 *   : undefined;
 */
export const listSessions = async (
  deps: SessionDeps,
  tenantId: string,
  query: OrderedPageQuery,
): Promise<ListEnvelope<SessionResource>> => {
  const page = await deps.store.listSessions(tenantId, {
    limit: query.limit,
    order: query.order,
    ...(query.after !== undefined && { cursor: query.after }),
  });
  return toListEnvelope(page, toSessionResource);
};
