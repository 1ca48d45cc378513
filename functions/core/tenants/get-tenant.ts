// Use case: one tenant by id.
import { TenantNotFoundError } from './errors';
import { type TenantDeps, toTenantResource } from './model';
import type { TenantResource } from './schemas';

/**
 * @example
 * await getTenant(deps, 'ten_01jd...'); // TenantResource, or throws TenantNotFoundError (404)
 */
export const getTenant = async (deps: TenantDeps, tenantId: string): Promise<TenantResource> => {
  const tenant = await deps.store.getTenant(tenantId);
  if (!tenant) throw new TenantNotFoundError(tenantId);
  return toTenantResource(tenant, deps.settings);
};
