// Use case: one page of tenants, oldest first.
import { type ListEnvelope, type PageQuery, toListEnvelope } from '../pagination';
import { type TenantDeps, toTenantResource } from './model';
import type { TenantResource } from './schemas';

/**
 * @example
 * const first = await listTenants(deps, { limit: 20 });
 * const next = first.has_more ? await listTenants(deps, { limit: 20, after: first.next_cursor }) : undefined;
 */
export const listTenants = async (
  deps: TenantDeps,
  query: PageQuery,
): Promise<ListEnvelope<TenantResource>> => {
  const page = await deps.store.listTenants({ limit: query.limit, cursor: query.after });
  return toListEnvelope(page, (tenant) => toTenantResource(tenant, deps.settings));
};
