// Handler: WebSocket $connect; records the connection the authorizer let in, for at most 2 hours.
import middy from '@middy/core';
import { dynamoDocumentClient } from '../../adapters/aws-clients';
import { DynamoConnectionStore } from '../../adapters/dynamodb/connection-store';
import { requireEnv } from '../../config';
import { openConnection } from '../../core/connections/open-connection';
import type { ConnectionStore } from '../../core/ports/connection-store';
import type { WsEvent, WsResult } from '../../middleware/ws/types';
import { tenantPrincipal, type WsLambdaContext, wsContext } from '../../middleware/ws/ws-context';
import { createLogger, type Logger } from '../../observability/logger';
import { ENV } from '../../platform/env';

export interface ConnectDeps {
  connections: ConnectionStore;
  logger: Logger;
  now?: () => number;
}

export const createConnectHandler = ({ connections, logger, now }: ConnectDeps) =>
  middy<WsEvent, WsResult, Error, WsLambdaContext>()
    .use(wsContext({ logger }))
    .handler(async (event, context) => {
      const { tenantId, keyId } = tenantPrincipal(event); // no tenant context: 401, the socket is refused
      const { connectionId, connectedAt } = event.requestContext;
      const record = await openConnection(
        { connections, now },
        { connectionId, tenantId, keyId, connectedAt },
      );
      context.log.info('connection opened', { key_id: keyId, ttl: record.ttl });
      return { statusCode: 200 };
    });

const env = requireEnv([ENV.connectionsTable]);
export const handler = createConnectHandler({
  connections: new DynamoConnectionStore(dynamoDocumentClient(), env[ENV.connectionsTable]),
  logger: createLogger({ service: 'ws-connect' }),
});
