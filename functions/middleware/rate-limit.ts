// Middleware: counts each tenant request against its `requests_per_minute` (one conditional write) and
// answers 429 with `Retry-After` and OpenAI's `x-ratelimit-*-requests` headers once the minute is used
// up. It runs after validation, so malformed requests are refused before any write. On routes marked
// `countedWithHold` it hands the operation a RequestMeter instead: the use case's first token hold counts
// the request in the same write, and a request that ended before holding anything is counted here after.
import { type Clock, systemClock } from '../core/ports/clock';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import { checkRateLimit } from '../core/quotas/check-rate-limit';
import { rateLimitHeaders } from '../core/quotas/errors';
import { unixSeconds } from '../core/quotas/ledger-rules';
import { admitRequest, RequestMeter } from '../core/quotas/request-meter';
import { type Plans, tenantQuotas } from '../core/quotas/schemas';
import { HTTP_ROUTES, routeKeyOf } from '../platform/routes';
import { type HttpMiddleware, type HttpRequest, state } from './types';

const COUNTED_WITH_HOLD: ReadonlySet<string> = new Set(
  HTTP_ROUTES.filter((route) => 'countedWithHold' in route && route.countedWithHold).map(routeKeyOf),
);

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
    if (COUNTED_WITH_HOLD.has(request.event.routeKey)) {
      http.meter = new RequestMeter(http.tenant.id, limit);
      return;
    }
    const standing = await checkRateLimit({ ledger, clock }, { tenantId: http.tenant.id, limit });
    if (standing) addHeaders(request, standing);
  };

  const addHeaders = (request: HttpRequest, standing: NonNullable<RequestMeter['standing']>) => {
    const http = state(request);
    http.responseHeaders = {
      ...http.responseHeaders,
      ...rateLimitHeaders('requests_per_minute', standing, unixSeconds(clock.now())),
    };
  };

  /**
   * A metered request that ended before its first hold (refused by the use case, say) is counted now, so
   * it still uses up the minute; its answer stands either way, as it did no write.
   */
  const settleMeter = async (request: HttpRequest) => {
    const http = request.internal.http;
    const meter = http?.meter;
    if (!http || !meter || !ledger) return;
    if (meter.pending) {
      try {
        await admitRequest({ ledger, clock }, meter);
      } catch (error) {
        http.log.warn('request not counted', { error: error instanceof Error ? error.name : String(error) });
      }
    }
    if (meter.standing) addHeaders(request, meter.standing);
  };

  const rateLimitAfter = async (request: HttpRequest) => {
    await settleMeter(request);
    const headers = request.internal.http?.responseHeaders;
    if (!request.response || !headers) return;
    request.response.headers = { ...headers, ...request.response.headers };
  };

  const rateLimitOnError = (request: HttpRequest) => settleMeter(request);

  return { before: rateLimitBefore, after: rateLimitAfter, onError: rateLimitOnError };
};
