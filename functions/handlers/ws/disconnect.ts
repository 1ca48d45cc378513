// Handler: WebSocket $disconnect; forgets the connection (idempotent: a repeat or unknown id is fine).
import middy from '@middy/core';
import { dynamoDocumentClient } from '../../adapters/aws-clients';
import { DynamoConnectionStore } from '../../adapters/dynamodb/connection-store';
import { requireEnv } from '../../config';
import { closeConnection } from '../../core/connections/close-connection';
import type { ConnectionStore } from '../../core/ports/connection-store';
import type { WsEvent, WsResult } from '../../middleware/ws/types';
import { type WsLambdaContext, wsContext } from '../../middleware/ws/ws-context';
import { createLogger, type Logger } from '../../observability/logger';
import { ENV } from '../../platform/env';

export interface DisconnectDeps {
  connections: ConnectionStore;
  logger: Logger;
}

export const createDisconnectHandler = ({ connections, logger }: DisconnectDeps) =>
  middy<WsEvent, WsResult, Error, WsLambdaContext>()
    .use(wsContext({ logger }))
    .handler(async (event, context) => {
      const closed = await closeConnection({ connections }, event.requestContext.connectionId);
      context.log.info('connection closed', {
        was_recorded: closed !== undefined,
        disconnect_status_code: event.requestContext.disconnectStatusCode,
      });
      return { statusCode: 200 };
    });

const env = requireEnv([ENV.connectionsTable]);
export const handler = createDisconnectHandler({
  connections: new DynamoConnectionStore(dynamoDocumentClient(), env[ENV.connectionsTable]),
  logger: createLogger({ service: 'ws-disconnect' }),
});
