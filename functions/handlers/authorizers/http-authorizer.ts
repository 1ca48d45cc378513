// Handler: the HTTP API REQUEST authorizer (payload 2.0, simple responses, cached by the Authorization
// header). It ALWAYS authorizes and says who the caller is, because an HTTP API authorizer can only
// deny with a bare 403: the handler middleware turns `anonymous` into a 401 in the OpenAI envelope.
//   admin key        → { principal: 'admin' }
//   tenant key       → { principal: 'tenant', tenantId, keyId }
//   anything else    → { principal: 'anonymous', authError }
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import type { AdminKeyVerifier } from '../../core/ports/admin-key';
import type { TenantStore } from '../../core/ports/tenant-store';
import { checkApiKeyFormat } from '../../core/tenants/api-key-format';
import { authenticateApiKey, bearerToken } from '../../core/tenants/authenticate-api-key';
import type { AuthorizerContext } from '../../middleware/types';
import { createLogger, type Logger } from '../../observability/logger';
import { adminKeyVerifier, runtimeConfig, tenantStore } from '../wiring';

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
  const result = await authenticateApiKey(deps, token);
  return result.ok
    ? { principal: 'tenant', tenantId: result.tenant.id, keyId: result.key.id }
    : { principal: 'anonymous', authError: result.reason };
};

export const createHttpAuthorizer = (deps: HttpAuthorizerDeps) => {
  const logger = deps.logger ?? createLogger({ service: 'authorizer-http' });
  return async (event: APIGatewayRequestAuthorizerEventV2): Promise<HttpAuthorizerResult> => {
    const context = await resolvePrincipal(deps, authorizationHeader(event.headers));
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
