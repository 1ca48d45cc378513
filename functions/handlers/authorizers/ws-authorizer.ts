// Handler: the WebSocket `$connect` REQUEST authorizer. Answers with an IAM policy: Allow for a valid
// tenant key (principalId = tenant id, context for the connect handler), Deny otherwise, and the
// API Gateway convention `throw new Error('Unauthorized')` (→ 401) when no credentials came at all.
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { TenantStore } from '../../core/ports/tenant-store';
import { authenticateApiKey, bearerToken } from '../../core/tenants/authenticate-api-key';
import { createLogger, type Logger } from '../../observability/logger';
import { runtimeConfig, tenantStore } from '../wiring';

/** Who a ticket belongs to. Browser clients cannot set headers, so they connect with `?ticket=`. */
export type TicketRedeemer = (ticket: string) => Promise<{ tenantId: string; keyId: string } | undefined>;

export interface WsAuthorizerDeps {
  readonly store: TenantStore;
  readonly stage: string;
  /** Seam for single-use tickets (`POST /v1/ws-tickets`, a later issue); without it tickets are denied. */
  readonly redeemTicket?: TicketRedeemer;
  readonly logger?: Logger;
}

type TenantContext = { principal: 'tenant'; tenantId: string; keyId: string };

const policy = (effect: 'Allow' | 'Deny', principalId: string, resource: string) => ({
  principalId,
  policyDocument: {
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
  },
});

const allow = (
  event: APIGatewayRequestAuthorizerEvent,
  context: TenantContext,
): APIGatewayAuthorizerResult => ({
  ...policy('Allow', context.tenantId, event.methodArn),
  context,
});

const deny = (event: APIGatewayRequestAuthorizerEvent, authError: string): APIGatewayAuthorizerResult => ({
  ...policy('Deny', 'anonymous', event.methodArn),
  context: { principal: 'anonymous', authError },
});

export const createWsAuthorizer = (deps: WsAuthorizerDeps) => {
  const logger = deps.logger ?? createLogger({ service: 'authorizer-ws' });
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const log = logger.child({
      request_id: event.requestContext?.requestId,
      connection_id: event.requestContext?.connectionId,
    });
    const authorization = Object.entries(event.headers ?? {}).find(
      ([name]) => name.toLowerCase() === 'authorization',
    )?.[1];
    const ticket = event.queryStringParameters?.ticket;

    if (!authorization && ticket) {
      const owner = deps.redeemTicket ? await deps.redeemTicket(ticket) : undefined;
      log.info('ws authorize by ticket', { allowed: owner !== undefined });
      return owner ? allow(event, { principal: 'tenant', ...owner }) : deny(event, 'invalid_ticket');
    }
    if (!authorization) {
      log.info('ws authorize: no credentials');
      throw new Error('Unauthorized');
    }
    const result = await authenticateApiKey(deps, bearerToken(authorization));
    if (!result.ok) {
      // A header that is not `Bearer <token>` is malformed, not missing.
      const reason = bearerToken(authorization) ? result.reason : 'malformed_api_key';
      log.info('ws authorize: denied', { auth_error: reason });
      return deny(event, reason);
    }
    log.info('ws authorize: allowed', { tenant_id: result.tenant.id, key_id: result.key.id });
    return allow(event, { principal: 'tenant', tenantId: result.tenant.id, keyId: result.key.id });
  };
};

export const handler = createWsAuthorizer({ store: tenantStore(), stage: runtimeConfig().stage });
