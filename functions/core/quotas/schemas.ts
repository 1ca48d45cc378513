// Core: the quota vocabulary of shared/API.md, used by tenants, plans and the stage config alike.
import { z } from 'zod';

/** A limit: a non-negative integer, or `null` for unlimited. */
const limit = z.number().int().nonnegative().nullable();

export const QUOTA_NAMES = [
  'requests_per_minute',
  'tokens_per_month',
  'storage_bytes',
  'concurrent_connections',
  'concurrent_runs',
  'tool_invocations_per_day',
  'max_steps_per_run',
] as const;

export type QuotaName = (typeof QUOTA_NAMES)[number];

/** Every quota set: what a plan defines. */
export const QuotasSchema = z
  .object({
    requests_per_minute: limit,
    tokens_per_month: limit,
    storage_bytes: limit,
    concurrent_connections: limit,
    /** Session runs queued or in progress at once (chat completions are not runs). */
    concurrent_runs: limit,
    tool_invocations_per_day: limit,
    max_steps_per_run: limit,
  })
  .strict();

/** Some quotas set: a tenant's overrides; absent fields take the plan's defaults. */
export const QuotaOverridesSchema = QuotasSchema.partial();

export type Quotas = z.infer<typeof QuotasSchema>;
export type QuotaOverrides = z.infer<typeof QuotaOverridesSchema>;

/** Plan name: lower-case words joined by hyphens (`free`, `pro`, `enterprise-eu`). */
export const PlanNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a plan name is 1-32 lower-case letters, digits or hyphens');

/** The plans a stage offers, by name. */
export const PlansSchema = z.record(PlanNameSchema, QuotasSchema);
export type Plans = z.infer<typeof PlansSchema>;

/**
 * The quotas in force for a tenant: its overrides over its plan's defaults.
 *
 * @example
 * effectiveQuotas(plans.free, { tokens_per_month: 50_000 }).tokens_per_month; // 50000
 */
export const effectiveQuotas = (plan: Quotas, overrides: QuotaOverrides = {}): Quotas => {
  const result: Quotas = { ...plan };
  for (const name of QUOTA_NAMES) {
    const value = overrides[name];
    if (value !== undefined) result[name] = value;
  }
  return result;
};

/**
 * The quotas in force for a tenant record; a plan since removed from the stage falls back to the default.
 *
 * @example
 * tenantQuotas(tenant, settings.plans, settings.defaultPlan).requests_per_minute; // 60
 */
export const tenantQuotas = (
  tenant: { readonly plan: string; readonly quota_overrides: QuotaOverrides },
  plans: Plans,
  defaultPlan: string,
): Quotas => {
  const plan = plans[tenant.plan] ?? plans[defaultPlan];
  if (!plan) throw new Error(`default plan '${defaultPlan}' is not configured`);
  return effectiveQuotas(plan, tenant.quota_overrides);
};
