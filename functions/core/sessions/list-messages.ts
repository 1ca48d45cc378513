// Use case: one page of a session's messages, oldest first unless `order=desc`.
import { type ListEnvelope, toListEnvelope } from '../pagination';
import { type SessionDeps, toMessageResource } from './model';
import type { MessageResource, OrderedPageQuery } from './schemas';

/**
 * Offloaded content comes back inline; an unknown (or another tenant's) session is a 404, not an
 * empty list.
 *
 * @example
 * const page = await listMessages(deps, tenantId, sessionId, { limit: 50, order: 'asc' });
 */
export const listMessages = async (
  deps: SessionDeps,
  tenantId: string,
  sessionId: string,
  query: OrderedPageQuery,
): Promise<ListEnvelope<MessageResource>> => {
  const page = await deps.store.listMessages(tenantId, sessionId, {
    limit: query.limit,
    order: query.order,
    ...(query.after !== undefined && { cursor: query.after }),
  });
  return toListEnvelope(page, toMessageResource);
};
