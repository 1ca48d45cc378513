// Use case: create a tenant on a known plan with models the stage allows, and a default model among them.
import {
  assertAllowedModels,
  assertDefaultModel,
  assertKnownPlan,
  type TenantDeps,
  toTenantResource,
  unixSeconds,
} from './model';
import type { CreateTenantRequest, TenantRecord, TenantResource } from './schemas';

/**
 * @example
 * const tenant = await createTenant(deps, { name: 'Acme', plan: 'pro' });
 * tenant.id; // 'ten_01jd...'
 */
export const createTenant = async (
  deps: TenantDeps,
  request: CreateTenantRequest,
): Promise<TenantResource> => {
  const plan = request.plan ?? deps.settings.defaultPlan;
  assertKnownPlan(plan, deps.settings);
  assertAllowedModels(request.models, deps.settings);
  assertDefaultModel(
    { defaultModel: request.default_model ?? null, models: request.models ?? null },
    { default_model: true },
    deps.settings,
  );
  const now = unixSeconds(deps.clock.now());
  const tenant: TenantRecord = {
    id: deps.ids.newId('ten'),
    name: request.name,
    plan,
    quota_overrides: request.quotas ?? {},
    models: request.models ?? null,
    default_model: request.default_model ?? null,
    tools: request.tools ?? null,
    status: 'active',
    created_at: now,
    updated_at: now,
  };
  await deps.store.createTenant(tenant);
  return toTenantResource(tenant, deps.settings);
};
