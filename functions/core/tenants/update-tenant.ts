// Use case: change a tenant's name, plan, quotas, models, default model, tools or status in one atomic write.
import { TenantNotFoundError } from './errors';
import {
  assertAllowedModels,
  assertDefaultModel,
  assertKnownPlan,
  type TenantDeps,
  toTenantResource,
  unixSeconds,
} from './model';
import type { TenantChanges, TenantResource, UpdateTenantRequest } from './schemas';

/**
 * `quotas` replaces the overrides: an absent field returns to the plan's default. Suspending takes
 * effect on the next request, because every request re-reads the tenant's status.
 *
 * @example
 * await updateTenant(deps, 'ten_01jd...', { status: 'suspended' });
 */
export const updateTenant = async (
  deps: TenantDeps,
  tenantId: string,
  request: UpdateTenantRequest,
): Promise<TenantResource> => {
  if (request.plan !== undefined) assertKnownPlan(request.plan, deps.settings);
  assertAllowedModels(request.models, deps.settings);
  if (request.models !== undefined || request.default_model !== undefined) {
    // The default must stay among the models, whichever of the two this request changes. A concurrent PATCH
    // could still pull them apart; resolving a model ignores a default the tenant may not use.
    const current = await deps.store.getTenant(tenantId);
    if (!current) throw new TenantNotFoundError(tenantId);
    assertDefaultModel(
      {
        defaultModel:
          request.default_model !== undefined ? request.default_model : (current.default_model ?? null),
        models: request.models !== undefined ? request.models : current.models,
      },
      { default_model: request.default_model !== undefined, models: request.models !== undefined },
      deps.settings,
    );
  }
  const changes: TenantChanges = { updated_at: unixSeconds(deps.clock.now()) };
  if (request.name !== undefined) changes.name = request.name;
  if (request.plan !== undefined) changes.plan = request.plan;
  if (request.quotas !== undefined) changes.quota_overrides = request.quotas;
  if (request.models !== undefined) changes.models = request.models;
  if (request.default_model !== undefined) changes.default_model = request.default_model;
  if (request.tools !== undefined) changes.tools = request.tools;
  if (request.status !== undefined) changes.status = request.status;
  const tenant = await deps.store.updateTenant(tenantId, changes);
  return toTenantResource(tenant, deps.settings);
};
