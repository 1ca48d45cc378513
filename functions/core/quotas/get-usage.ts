// Use case: each quota's limit, what is used and reserved in the current window, and when it resets.
import { z } from 'zod';
import type { Clock } from '../ports/clock';
import type { UsageReader } from '../ports/usage-reader';
import { type Plans, QUOTA_NAMES, type QuotaName, tenantQuotas } from './schemas';
import { quotaWindow } from './windows';

const UsageEntry = z.object({
  limit: z.number().int().nullable().describe('null means unlimited'),
  used: z.number().int(),
  reserved: z.number().int(),
  resets_at: z.number().int().nullable().describe('Unix seconds; null when the quota has no window'),
});

/** One entry per quota name, as shared/API.md lists them. */
export const UsageReport = z
  .object(
    Object.fromEntries(QUOTA_NAMES.map((name) => [name, UsageEntry])) as Record<QuotaName, typeof UsageEntry>,
  )
  .meta({ id: 'Usage' });
export type UsageReport = z.infer<typeof UsageReport>;

/**
 * @example
 * const report = await getUsage({ usage, clock, plans }, tenant);
 * report.tokens_per_month; // { limit: 1000000, used: 0, reserved: 0, resets_at: 1798761600 }
 */
export const getUsage = async (
  deps: {
    readonly usage: UsageReader;
    readonly clock: Clock;
    readonly plans: Plans;
    readonly defaultPlan: string;
  },
  tenant: {
    readonly id: string;
    readonly plan: string;
    readonly quota_overrides: Partial<Record<QuotaName, number | null>>;
  },
): Promise<UsageReport> => {
  const now = deps.clock.now();
  const limits = tenantQuotas(tenant, deps.plans, deps.defaultPlan);
  const counters = await deps.usage.readCounters(tenant.id, now);
  const entries = QUOTA_NAMES.map((name) => {
    const resetsAt = quotaWindow(name, now).resetsAt;
    return [
      name,
      {
        limit: limits[name],
        used: counters[name].used,
        reserved: counters[name].reserved,
        resets_at: resetsAt === null ? null : Math.floor(resetsAt.getTime() / 1000),
      },
    ] as const;
  });
  return Object.fromEntries(entries) as UsageReport;
};
