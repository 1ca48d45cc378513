// Handler: WebSocket `$default` and `ping` routes; answers each client frame on the caller's connection.
import middy from '@middy/core';
import { ApiGatewayConnectionNotifier } from '../../adapters/apigw-management/connection-notifier';
import { apiGatewayManagement } from '../../adapters/aws-clients';
import { requireEnv } from '../../config';
import { handleClientFrame } from '../../core/connections/handle-client-frame';
import type { ConnectionNotifier } from '../../core/ports/connection-notifier';
import type { WsEvent, WsResult } from '../../middleware/ws/types';
import { type WsLambdaContext, wsContext } from '../../middleware/ws/ws-context';
import { createLogger, type Logger } from '../../observability/logger';
import { ENV } from '../../platform/env';

export interface DefaultRouteDeps {
  notifier: ConnectionNotifier;
  logger: Logger;
}

export const createDefaultHandler = ({ notifier, logger }: DefaultRouteDeps) =>
  middy<WsEvent, WsResult, Error, WsLambdaContext>()
    .use(wsContext({ logger }))
    .handler(async (event, context) => {
      const body =
        event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString() : event.body;
      const reply = handleClientFrame(body);
      // A caller that left meanwhile raises ConnectionGoneError, which wsContext answers with 200.
      await notifier.post(event.requestContext.connectionId, reply);
      context.log.info('frame answered', {
        reply: reply.type,
        code: reply.type === 'error' ? reply.error.code : null,
      });
      return { statusCode: 200 };
    });

const env = requireEnv([ENV.wsManagementEndpoint]);
export const handler = createDefaultHandler({
  notifier: new ApiGatewayConnectionNotifier(apiGatewayManagement(env[ENV.wsManagementEndpoint])),
  logger: createLogger({ service: 'ws-default' }),
});
