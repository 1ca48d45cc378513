// Middleware: enforces each route's `auth` from the route table, using the authorizer's context.
// API Gateway caches authorizer answers, so a tenant key is re-checked here on every request (one
// BatchGet of the key and its tenant): a revoked key or a suspended tenant stops working at once.
// A route may start its prefetch (a `PrefetchHook`: chat-api's is core/chat/prefetch.ts) at the same
// time, so the re-check costs no round trip of its own; nothing of it is used unless the key stands, and
// what it took is given back by `undoUnclaimedPrefetch` before the answer unless the operation claimed it.
// That is bounded: the authorizer accepted the key within its cache's TTL; the undo is awaited before the
// answer; and a crash in between leaves holds whose leases end by themselves (a turn's are short; a
// completion's is the ordinary 900 s of any completion's hold).
import { NotFoundError, PermissionDeniedError } from '../core/errors';
import type { TenantStore } from '../core/ports/tenant-store';
import { checkApiKeyStanding } from '../core/tenants/authenticate-api-key';
import { authFailureError, isAuthFailure } from '../core/tenants/errors';
import { HTTP_ROUTES, type RouteAuth, routeKeyOf } from '../platform/routes';
import type { AuthorizerContext, HttpEvent, HttpMiddleware, HttpRequest, PrefetchHandle } from './types';
import { state } from './types';

export interface AuthenticateOptions {
  /** Needed when the function serves tenant routes. */
  store?: TenantStore;
  /** Route key → auth; defaults to the platform route table. */
  routeAuth?: ReadonlyMap<string, RouteAuth>;
  /** Starts the route's prefetch alongside the re-check (see `PrefetchHook`); undefined: nothing to start. */
  prefetch?: (event: HttpEvent, tenantId: string) => PrefetchHandle | undefined;
}

const defaultRouteAuth: ReadonlyMap<string, RouteAuth> = new Map(
  HTTP_ROUTES.map((route) => [routeKeyOf(route), route.auth]),
);

/** Reads the flat string context the HTTP authorizer returns; anything else is anonymous. */
const principalOf = (event: HttpEvent): AuthorizerContext => {
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
    // Started before the re-check, so that its undo runs whatever the re-check finds; the operation only
    // runs if the key stands.
    const prefetched = options.prefetch?.(request.event, principal.tenantId);
    if (prefetched) http.prefetched = prefetched;
    const standing = await checkApiKeyStanding(options.store, principal.tenantId, principal.keyId);
    if (!standing.ok) throw authFailureError(standing.reason);
    http.tenant = standing.tenant;
    http.log = http.log.child({ tenant_id: standing.tenant.id, key_id: standing.key.id });
  };

  return { before: authenticateBefore };
};

/**
 * Gives back what a route's prefetch took when the operation did not claim it: the key failed, the body
 * was refused, or the operation ended without taking it up. Used last, so it runs before the other
 * middlewares' after and onError (rateLimit then counts a request that went ahead with nothing held).
 *
 * @example
 * middy().use(authenticate({ store, prefetch })).use(rateLimit(options)).use(undoUnclaimedPrefetch())
 */
export const undoUnclaimedPrefetch = (): HttpMiddleware => {
  const undo = async (request: HttpRequest) => {
    const http = request.internal.http;
    try {
      await http?.prefetched?.undo();
    } catch (error) {
      http?.log.warn('prefetch not undone', { error: error instanceof Error ? error.name : String(error) });
    }
  };
  return { after: undo, onError: undo };
};
