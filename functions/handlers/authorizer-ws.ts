// Handler: the WebSocket `$connect` REQUEST authorizer. API Gateway's conventions decide the answers:
//   a valid tenant key (or ticket)                    → Allow (principalId = tenant id, context for $connect)
//   a genuine key whose tenant is suspended           → Deny  (API Gateway answers 403)
//   no, a malformed, an unknown or a revoked key      → throw new Error('Unauthorized') (API Gateway: 401)
// A thrown Unauthorized counts as a Lambda error, so the authorizer's alarm is a rate, not Errors > 0
// (lib/constructs/observability.ts). Any other throw (DynamoDB throttled) is a 500 for that connect.
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { redeemWsTicket } from '../core/connections/redeem-ws-ticket';
import { systemClock } from '../core/ports/clock';
import type { TenantStore } from '../core/ports/tenant-store';
import {
  type Authentication,
  authenticateApiKey,
  bearerToken,
  checkApiKeyStanding,
} from '../core/tenants/authenticate-api-key';
import { createLogger, type Logger } from '../observability/logger';
import { runtimeConfig } from './wiring/config';
import { tenantStore, ticketStore } from './wiring/stores';

/** Who a ticket belongs to. Browser clients cannot set headers, so they connect with `?ticket=`. */
export type TicketRedeemer = (ticket: string) => Promise<{ tenantId: string; keyId: string } | undefined>;

export interface WsAuthorizerDeps {
  readonly store: TenantStore;
  readonly stage: string;
  /** Redeems single-use tickets (`POST /v1/ws-tickets`); without it every ticket is refused. */
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

/** API Gateway's own convention for a 401: the exact message `Unauthorized`. */
const unauthorized = (): Error => new Error('Unauthorized');

/**
 * @example
 * export const handler = createWsAuthorizer({ store, stage: 'dev' });
 */
export const createWsAuthorizer = (deps: WsAuthorizerDeps) => {
  const logger = deps.logger ?? createLogger({ service: 'authorizer-ws' });
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const log = logger.child({
      request_id: event.requestContext?.requestId,
      connection_id: event.requestContext?.connectionId,
    });
    const answer = (via: 'ticket' | 'key', result: Authentication): APIGatewayAuthorizerResult => {
      if (result.ok) {
        log.info('ws authorize: allowed', { via, tenant_id: result.tenant.id, key_id: result.key.id });
        return allow(event, { principal: 'tenant', tenantId: result.tenant.id, keyId: result.key.id });
      }
      // Only a genuine key of a suspended tenant is a 403; any other failure means "no valid credentials".
      if (result.reason === 'tenant_suspended') {
        log.info('ws authorize: denied', { via, auth_error: result.reason });
        return deny(event, result.reason);
      }
      log.info('ws authorize: unauthorized', { via, auth_error: result.reason });
      throw unauthorized();
    };

    const authorization = Object.entries(event.headers ?? {}).find(
      ([name]) => name.toLowerCase() === 'authorization',
    )?.[1];
    const ticket = event.queryStringParameters?.ticket;

    if (!authorization && ticket) {
      const owner = deps.redeemTicket ? await deps.redeemTicket(ticket) : undefined;
      if (!owner) return answer('ticket', { ok: false, reason: 'unknown_api_key' });
      // A ticket lives 60 s; the key it was issued for may have been revoked or suspended meanwhile.
      return answer('ticket', await checkApiKeyStanding(deps.store, owner.tenantId, owner.keyId));
    }
    if (!authorization) return answer('key', { ok: false, reason: 'missing_api_key' });
    // A header that is not `Bearer <token>` is malformed, not missing.
    const token = bearerToken(authorization);
    if (!token) return answer('key', { ok: false, reason: 'malformed_api_key' });
    return answer('key', await authenticateApiKey(deps, token));
  };
};

export const handler = createWsAuthorizer({
  store: tenantStore(),
  stage: runtimeConfig().stage,
  redeemTicket: (ticket) => redeemWsTicket({ tickets: ticketStore(), clock: systemClock }, ticket),
});
