// Use case: count a tenant request against `requests_per_minute`, or refuse it with a 429.
import type { QuotaStanding } from './errors';
import { type CountDeps, countInWindow } from './windowed-count';

/**
 * One atomic increment of the tenant's counter for the current minute. Throws `QuotaExceededError`
 * (429, `Retry-After` = seconds to the next minute) when the minute's requests are used up; returns
 * undefined for an unlimited tenant, which costs no write.
 *
 * @example
 * const standing = await checkRateLimit({ ledger, clock }, { tenantId: tenant.id, limit: 60 });
 * standing; // { limit: 60, remaining: 59, resetsAt: 1795000020 }
 */
export const checkRateLimit = (
  deps: CountDeps,
  input: { readonly tenantId: string; readonly limit: number | null },
): Promise<(QuotaStanding & { readonly remaining: number }) | undefined> =>
  countInWindow(deps, 'requests_per_minute', input);
