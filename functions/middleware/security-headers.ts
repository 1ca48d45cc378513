// Middleware: security headers on every API response, errors included. A JSON API needs few: HSTS,
// no sniffing, no framing, no caching of tenant data, and a CSP that allows nothing.
import type { HttpMiddleware, HttpRequest } from './types';

export interface SecurityHeadersOptions {
  hstsMaxAgeSeconds?: number;
  /** Responses that set their own Cache-Control keep it. */
  cacheControl?: string;
}

const defaults: Required<SecurityHeadersOptions> = {
  hstsMaxAgeSeconds: 63_072_000,
  cacheControl: 'no-store',
};

export const securityHeaders = (options: SecurityHeadersOptions = {}): HttpMiddleware => {
  const { hstsMaxAgeSeconds, cacheControl } = { ...defaults, ...options };
  const fixed = {
    'Strict-Transport-Security': `max-age=${hstsMaxAgeSeconds}; includeSubDomains`,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  };

  const securityHeadersAfter = (request: HttpRequest) => {
    if (!request.response) return;
    const headers = request.response.headers ?? {};
    const hasCacheControl = Object.keys(headers).some((name) => name.toLowerCase() === 'cache-control');
    request.response.headers = {
      ...fixed,
      ...(hasCacheControl ? {} : { 'Cache-Control': cacheControl }),
      ...headers,
    };
  };

  return { after: securityHeadersAfter, onError: securityHeadersAfter };
};
