// Use case: one page of a tenant's API keys: prefixes and dates, never secrets.
import { type ListEnvelope, type PageQuery, toListEnvelope } from '../pagination';
import { TenantNotFoundError } from './errors';
import { type TenantDeps, toApiKeyResource } from './model';
import type { ApiKeyResource } from './schemas';

/**
 * @example
 * const { data } = await listApiKeys(deps, 'ten_01jd...', { limit: 20 });
 */
export const listApiKeys = async (
  deps: TenantDeps,
  tenantId: string,
  query: PageQuery,
): Promise<ListEnvelope<ApiKeyResource>> => {
  // An unknown tenant is a 404, not an empty list.
  if (!(await deps.store.getTenant(tenantId))) throw new TenantNotFoundError(tenantId);
  const page = await deps.store.listApiKeys(tenantId, { limit: query.limit, cursor: query.after });
  return toListEnvelope(page, toApiKeyResource);
};
