// Middleware: enforces each route's `auth` from the route table, using the authorizer's context.
// API Gateway caches authorizer answers, so a tenant key is re-checked here on every request (one
// BatchGet of the key and its tenant): a revoked key or a suspended tenant stops working at once.
// A route may read what it needs first (its prefetch) at the same time, so the re-check costs no round
// trip of its own; nothing of that read is used unless the key stands.
import { NotFoundError, PermissionDeniedError } from '../core/errors';
import type { TenantStore } from '../core/ports/tenant-store';
import { checkApiKeyStanding } from '../core/tenants/authenticate-api-key';
import { authFailureError, isAuthFailure } from '../core/tenants/errors';
import { HTTP_ROUTES, type RouteAuth, routeKeyOf } from '../platform/routes';
import type { AuthorizerContext, HttpEvent, HttpMiddleware, HttpRequest, Prefetched } from './types';
import { state } from './types';

export interface AuthenticateOptions {
  /** Needed when the function serves tenant routes. */
  store?: TenantStore;
  /** Route key → auth; defaults to the platform route table. */
  routeAuth?: ReadonlyMap<string, RouteAuth>;
  /**
   * A read to start alongside the re-check, for routes whose first read depends only on the authorizer's
   * tenant id and the path: only ever a read (the key may turn out revoked). Undefined: nothing to read.
   */
  prefetch?: (event: HttpEvent, tenantId: string) => Promise<unknown> | undefined;
}

const defaultRouteAuth: ReadonlyMap<string, RouteAuth> = new Map(
  HTTP_ROUTES.map((route) => [routeKeyOf(route), route.auth]),
);

/** Reads the flat string context the HTTP authorizer returns; anything else is anonymous. */
export const principalOf = (event: HttpEvent): AuthorizerContext => {
  const context = event.requestContext?.authorizer?.lambda ?? undefined;
  const text = (name: string) =>
    typeof context?.[name] === 'string' ? (context[name] as string) : undefined;
  const principal = text('principal');
  const tenantId = text('tenantId');
  const keyId = text('keyId');
  if (principal === 'admin') return { principal: 'admin' };
  if (principal === 'tenant' && tenantId && keyId) return { principal: 'tenant', tenantId, keyId };
  return { principal: 'anonymous', authError: text('authError') ?? 'missing_api_key' };
};

const refuse = (authError: string) =>
  authFailureError(isAuthFailure(authError) ? authError : 'unknown_api_key');

export const authenticate = (options: AuthenticateOptions = {}): HttpMiddleware => {
  const routeAuth = options.routeAuth ?? defaultRouteAuth;

  const authenticateBefore = async (request: HttpRequest) => {
    const http = state(request);
    const auth = routeAuth.get(request.event.routeKey);
    if (auth === undefined) throw new NotFoundError('route_not_found', `No route ${request.event.routeKey}`);
    const principal = principalOf(request.event);
    http.principal = principal;
    if (auth === 'none') return;

    if (principal.principal === 'anonymous') throw refuse(principal.authError);
    if (auth === 'admin') {
      if (principal.principal !== 'admin') {
        throw new PermissionDeniedError(
          'admin_key_required',
          'This route needs the admin key, not a tenant key',
        );
      }
      http.log = http.log.child({ principal: 'admin' });
      return;
    }
    if (principal.principal !== 'tenant') {
      throw new PermissionDeniedError('tenant_key_required', 'This route needs a tenant API key');
    }
    if (!options.store) throw new Error('authenticate: tenant routes need a TenantStore');
    // Settled at once, so a prefetch nobody awaits (the key failed) never rejects unhandled.
    const prefetched: Promise<Prefetched> | undefined = options
      .prefetch?.(request.event, principal.tenantId)
      ?.then(
        (value) => ({ ok: true, value }),
        () => ({ ok: false }),
      );
    const standing = await checkApiKeyStanding(options.store, principal.tenantId, principal.keyId);
    if (!standing.ok) throw authFailureError(standing.reason);
    if (prefetched) http.prefetched = prefetched;
    http.tenant = standing.tenant;
    http.log = http.log.child({ tenant_id: standing.tenant.id, key_id: standing.key.id });
  };

  return { before: authenticateBefore };
};
