// Handler: the HTTP API REQUEST authorizer (payload 2.0, simple responses, cached by the Authorization
// header). It ALWAYS authorizes and says who the caller is, because an HTTP API authorizer can only
// deny with a bare 403: the handler middleware turns `anonymous` into a 401 in the OpenAI envelope.
//   admin key                              → { principal: 'admin' }
//   tenant key, even revoked or suspended  → { principal: 'tenant', tenantId, keyId }
//   anything else                          → { principal: 'anonymous', authError }
// A failure to find out (DynamoDB throttled, Secrets Manager down) is thrown, never answered: see below.
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import type { AdminKeyVerifier } from '../core/ports/admin-key';
import type { TenantStore } from '../core/ports/tenant-store';
import { checkApiKeyFormat } from '../core/tenants/api-key-format';
import { bearerToken, identifyApiKey } from '../core/tenants/authenticate-api-key';
import type { AuthorizerContext } from '../middleware/types';
import { createLogger, type Logger } from '../observability/logger';
import { adminKeyVerifier } from './wiring/admin-key';
import { runtimeConfig } from './wiring/config';
import { tenantStore } from './wiring/stores';

export interface HttpAuthorizerDeps {
  readonly store: TenantStore;
  readonly admin: AdminKeyVerifier;
  readonly stage: string;
  readonly logger?: Logger;
}

export type HttpAuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>;

const authorizationHeader = (headers: Record<string, string | undefined> | undefined): string | undefined =>
  Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'authorization')?.[1];

/** Who the bearer of `authorization` is; shared with the WebSocket authorizer. */
export const resolvePrincipal = async (
  deps: HttpAuthorizerDeps,
  authorization: string | undefined,
): Promise<AuthorizerContext> => {
  const token = bearerToken(authorization);
  if (!token)
    return { principal: 'anonymous', authError: authorization ? 'malformed_api_key' : 'missing_api_key' };
  // A well-formed tenant key of this stage is never the admin key; anything else may be.
  if (checkApiKeyFormat(token, deps.stage) !== undefined && (await deps.admin.isAdminKey(token))) {
    return { principal: 'admin' };
  }
  // One read of the key's hash: a genuine key names its tenant whatever its standing. API Gateway caches
  // this answer, but the authenticate middleware re-checks the key's standing on every request and
  // refuses it there (401 revoked, 403 suspended); so revoking a key or suspending a tenant takes effect
  // at once, and re-activating one does too, instead of after the cache TTL.
  const found = await identifyApiKey(deps, token);
  if ('owner' in found) return { principal: 'tenant', ...found.owner };
  return { principal: 'anonymous', authError: found.reason };
};

/**
 * Transient failures inside the authorizer (a throttled or unreachable DynamoDB, Secrets Manager) are
 * thrown on purpose. API Gateway then answers that one request 500 and caches nothing, so the next
 * request tries again. Answering `anonymous` with authError 'temporarily_unavailable' instead would be
 * cached for the whole TTL under this Authorization header: a valid key would be locked out for up to
 * `authorizerCacheTtlSeconds` after a blip that lasted milliseconds.
 *
 * @example
 * export const handler = createHttpAuthorizer({ store, admin, stage: 'dev' });
 */
export const createHttpAuthorizer = (deps: HttpAuthorizerDeps) => {
  const logger = deps.logger ?? createLogger({ service: 'authorizer-http' });
  return async (event: APIGatewayRequestAuthorizerEventV2): Promise<HttpAuthorizerResult> => {
    let context: AuthorizerContext;
    try {
      context = await resolvePrincipal(deps, authorizationHeader(event.headers));
    } catch (error) {
      logger.error('authorizer could not resolve the caller; API Gateway answers 500, nothing cached', {
        request_id: event.requestContext?.requestId,
        route_key: event.routeKey,
        error,
      });
      throw error;
    }
    logger.info('authorized', {
      request_id: event.requestContext?.requestId,
      route_key: event.routeKey,
      ...context,
    });
    return { isAuthorized: true, context };
  };
};

export const handler = createHttpAuthorizer({
  store: tenantStore(),
  admin: adminKeyVerifier(),
  stage: runtimeConfig().stage,
});
