// Middleware: counts each tenant request against its `requests_per_minute` (one conditional write) and
// answers 429 with `Retry-After` and OpenAI's `x-ratelimit-*-requests` headers once the minute is used
// up. It runs after validation, so malformed requests are refused before any write.
import { type Clock, systemClock } from '../core/ports/clock';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import { checkRateLimit } from '../core/quotas/check-rate-limit';
import { rateLimitHeaders } from '../core/quotas/errors';
import { unixSeconds } from '../core/quotas/ledger-rules';
import { type Plans, tenantQuotas } from '../core/quotas/schemas';
import { type HttpMiddleware, type HttpRequest, state } from './types';

export interface RateLimitOptions {
  ledger?: QuotaLedger;
  plans: Plans;
  defaultPlan: string;
  clock?: Clock;
}

const defaults = { clock: systemClock };

/**
 * @example
 * middy().use(authenticate({ store })).use(rateLimit({ ledger, plans, defaultPlan: 'free' }))
 */
export const rateLimit = (options: RateLimitOptions): HttpMiddleware => {
  const { ledger, plans, defaultPlan, clock } = { ...defaults, ...options };

  const rateLimitBefore = async (request: HttpRequest) => {
    const http = state(request);
    // authenticate sets the tenant on tenant routes only: admin and public routes are not counted.
    if (!http.tenant) return;
    if (!ledger) throw new Error('rateLimit: tenant routes need a QuotaLedger');
    const limit = tenantQuotas(http.tenant, plans, defaultPlan).requests_per_minute;
    const standing = await checkRateLimit({ ledger, clock }, { tenantId: http.tenant.id, limit });
    if (!standing) return;
    http.responseHeaders = {
      ...http.responseHeaders,
      ...rateLimitHeaders('requests_per_minute', standing, unixSeconds(clock.now())),
    };
  };

  const rateLimitAfter = (request: HttpRequest) => {
    const headers = request.internal.http?.responseHeaders;
    if (!request.response || !headers) return;
    request.response.headers = { ...headers, ...request.response.headers };
  };

  return { before: rateLimitBefore, after: rateLimitAfter };
};
