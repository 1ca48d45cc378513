// Core: the stage's tenant settings and how stored records render as API resources.
import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/id-generator';
import type { TenantStore } from '../ports/tenant-store';
import { effectiveQuotas, type Plans } from '../quotas/schemas';
import { DefaultModelNotAllowedError, UnknownModelError, UnknownPlanError } from './errors';
import type { ApiKeyRecord, ApiKeyResource, TenantRecord, TenantResource } from './schemas';

/** What a stage lets tenants have; from the runtime config. */
export interface TenantSettings {
  readonly stage: string;
  readonly plans: Plans;
  readonly defaultPlan: string;
  /** The stage's allowed models: a tenant may narrow them, never widen them. */
  readonly allowedModels: readonly string[];
  /** Model id → the catalogue's provider serving it (`owned_by` in `GET /v1/models`). */
  readonly modelOwners?: Readonly<Record<string, string>>;
}

/** What the tenant use cases need. */
export interface TenantDeps {
  readonly store: TenantStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly settings: TenantSettings;
}

export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export const assertKnownPlan = (plan: string, settings: TenantSettings): void => {
  if (!Object.hasOwn(settings.plans, plan)) throw new UnknownPlanError(plan, Object.keys(settings.plans));
};

export const assertAllowedModels = (
  models: readonly string[] | null | undefined,
  settings: TenantSettings,
): void => {
  models?.forEach((model, index) => {
    if (!settings.allowedModels.includes(model))
      throw new UnknownModelError(model, `models[${index}]`, settings.allowedModels);
  });
};

/** The models a tenant's list allows: its own (as far as the stage still offers them), or the stage's. */
const modelsAllowedBy = (models: readonly string[] | null, settings: TenantSettings): string[] =>
  (models ?? settings.allowedModels).filter((model) => settings.allowedModels.includes(model));

/**
 * A tenant's default model must be a model of the stage and one of the tenant's own. `changed` says which
 * fields the request sets, so the error names the one to fix. A stored default the stage has since
 * dropped is not held against a request that does not touch it (it is ignored when resolving anyway).
 *
 * @example
 * assertDefaultModel({ defaultModel: 'gpt-4o', models: ['gpt-4o-mini'] }, { default_model: true }, settings);
 * // throws DefaultModelNotAllowedError (400 model_not_allowed, param default_model)
 */
export const assertDefaultModel = (
  after: { readonly defaultModel: string | null; readonly models: readonly string[] | null },
  changed: { readonly default_model?: boolean; readonly models?: boolean },
  settings: TenantSettings,
): void => {
  const { defaultModel } = after;
  if (defaultModel === null) return;
  if (!settings.allowedModels.includes(defaultModel)) {
    if (changed.default_model)
      throw new UnknownModelError(defaultModel, 'default_model', settings.allowedModels);
    return;
  }
  const allowed = modelsAllowedBy(after.models, settings);
  if (allowed.includes(defaultModel)) return;
  throw new DefaultModelNotAllowedError(
    defaultModel,
    allowed,
    changed.default_model ? 'default_model' : 'models',
  );
};

/**
 * The models a tenant may call: its own list, or the stage's; a model the stage has since dropped is
 * never offered.
 */
export const effectiveModels = (tenant: TenantRecord, settings: TenantSettings): string[] =>
  modelsAllowedBy(tenant.models, settings);

export const toTenantResource = (tenant: TenantRecord, settings: TenantSettings): TenantResource => {
  // A plan removed from the stage config falls back to the default plan rather than failing reads.
  const plan = settings.plans[tenant.plan] ?? settings.plans[settings.defaultPlan];
  if (!plan) throw new Error(`default plan '${settings.defaultPlan}' is not configured`);
  return {
    id: tenant.id,
    object: 'tenant',
    name: tenant.name,
    plan: tenant.plan,
    quotas: effectiveQuotas(plan, tenant.quota_overrides),
    quota_overrides: tenant.quota_overrides,
    models: effectiveModels(tenant, settings),
    default_model: tenant.default_model ?? null,
    tools: tenant.tools,
    status: tenant.status,
    created_at: tenant.created_at,
    updated_at: tenant.updated_at,
  };
};

export const toApiKeyResource = (key: ApiKeyRecord): ApiKeyResource => ({
  id: key.id,
  object: 'api_key',
  prefix: key.prefix,
  created_at: key.created_at,
  revoked_at: key.revoked_at,
});
