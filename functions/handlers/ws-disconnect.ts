// Handler: WebSocket $disconnect; forgets the connection and gives its `concurrent_connections` slot back
// (idempotent: a repeat or unknown id is fine).
import middy from '@middy/core';
import { dynamoDocumentClient } from '../adapters/aws-clients';
import { DynamoConnectionStore } from '../adapters/dynamodb/connection-store';
import { requireEnv } from '../config';
import { closeConnection } from '../core/connections/close-connection';
import type { ConnectionStore } from '../core/ports/connection-store';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import { releaseConnectionSlot } from '../core/quotas/acquire-connection-slot';
import type { WsEvent, WsResult } from '../middleware/ws/types';
import { type WsLambdaContext, wsContext } from '../middleware/ws/ws-context';
import { createLogger, type Logger } from '../observability/logger';
import { ENV } from '../platform/env';
import { quotaLedger } from './wiring/stores';

export interface DisconnectDeps {
  connections: ConnectionStore;
  logger: Logger;
  /** Releases the connection's slot; absent, nothing is released (connections were not counted). */
  ledger?: QuotaLedger;
}

export const createDisconnectHandler = ({ connections, logger, ledger }: DisconnectDeps) =>
  middy<WsEvent, WsResult, Error, WsLambdaContext>()
    .use(wsContext({ logger }))
    .handler(async (event, context) => {
      const { connectionId } = event.requestContext;
      const closed = await closeConnection({ connections }, connectionId);
      // The authorizer context rides on every event of the connection; the record is the fallback.
      const fromAuthorizer = event.requestContext.authorizer?.tenantId;
      const tenantId = typeof fromAuthorizer === 'string' ? fromAuthorizer : closed?.tenant_id;
      const released =
        ledger && tenantId ? await releaseConnectionSlot({ ledger }, { tenantId, connectionId }) : undefined;
      context.log.info('connection closed', {
        was_recorded: closed !== undefined,
        slot: released?.status ?? 'not counted',
        disconnect_status_code: event.requestContext.disconnectStatusCode,
      });
      return { statusCode: 200 };
    });

const env = requireEnv([ENV.connectionsTable]);
export const handler = createDisconnectHandler({
  connections: new DynamoConnectionStore(dynamoDocumentClient(), env[ENV.connectionsTable]),
  logger: createLogger({ service: 'ws-disconnect' }),
  ledger: quotaLedger(),
});
