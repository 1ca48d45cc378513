// Handler: WebSocket $connect; takes a `concurrent_connections` slot and records the connection the
// authorizer let in, for at most 2 hours. A full quota refuses the handshake with 429.
import middy from '@middy/core';
import { dynamoDocumentClient } from '../adapters/aws-clients';
import { DynamoConnectionStore } from '../adapters/dynamodb/connection-store';
import { requireEnv } from '../config';
import { admitConnection, type ConnectionSlotDeps } from '../core/connections/admit-connection';
import { systemClock } from '../core/ports/clock';
import type { ConnectionStore } from '../core/ports/connection-store';
import type { WsEvent, WsResult } from '../middleware/ws/types';
import { tenantPrincipal, type WsLambdaContext, wsContext } from '../middleware/ws/ws-context';
import { createLogger, type Logger } from '../observability/logger';
import { ENV } from '../platform/env';
import { runtimeConfig } from './wiring/config';
import { quotaLedger, tenantStore } from './wiring/stores';

export interface ConnectDeps {
  connections: ConnectionStore;
  logger: Logger;
  /** Counts connections against `concurrent_connections`; absent, connections are not limited. */
  slots?: ConnectionSlotDeps;
  now?: () => number;
}

export const createConnectHandler = ({ connections, logger, slots, now }: ConnectDeps) =>
  middy<WsEvent, WsResult, Error, WsLambdaContext>()
    .use(wsContext({ logger }))
    .handler(async (event, context) => {
      const { tenantId, keyId } = tenantPrincipal(event); // no tenant context: 401, the socket is refused
      const { connectionId, connectedAt } = event.requestContext;
      // A full quota throws QuotaExceededError, which wsContext answers with 429: the handshake fails.
      const { record, slot } = await admitConnection(
        { connections, ...(slots && { slots }), ...(now && { now }) },
        { connectionId, tenantId, keyId, connectedAt },
      );
      context.log.info('connection opened', {
        key_id: keyId,
        ttl: record.ttl,
        slot: slot === undefined ? 'not counted' : slot.unlimited ? 'unlimited' : 'held',
      });
      return { statusCode: 200 };
    });

const env = requireEnv([ENV.connectionsTable]);
const config = runtimeConfig();
export const handler = createConnectHandler({
  connections: new DynamoConnectionStore(dynamoDocumentClient(), env[ENV.connectionsTable]),
  logger: createLogger({ service: 'ws-connect' }),
  slots: {
    ledger: quotaLedger(),
    tenants: tenantStore(),
    clock: systemClock,
    plans: config.plans,
    defaultPlan: config.defaultPlan,
  },
});
