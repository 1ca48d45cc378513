// Use case: count one tool invocation against the tenant's `tool_invocations_per_day`.
import type { QuotaStanding } from './errors';
import { type CountDeps, countInWindow } from './windowed-count';

/**
 * Call before running a tool. Throws `QuotaExceededError` (429, `Retry-After` = seconds to midnight UTC)
 * when today's invocations are used up; unlimited tenants cost no write.
 *
 * @example
 * await countToolInvocation({ ledger, clock }, { tenantId: tenant.id, limit: quotas.tool_invocations_per_day });
 */
export const countToolInvocation = (
  deps: CountDeps,
  input: { readonly tenantId: string; readonly limit: number | null },
): Promise<(QuotaStanding & { readonly remaining: number }) | undefined> =>
  countInWindow(deps, 'tool_invocations_per_day', input);
