// Handler: WebSocket `$default` and `ping` routes; answers each client frame on the caller's connection,
// after re-checking that the connection's key is still in good standing (closing it when not). `chat`,
// `resume` and `cancel` go to the run actions (core/streaming/run-actions.ts).
import middy from '@middy/core';
import { ApiGatewayConnectionNotifier } from '../adapters/apigw-management/connection-notifier';
import { apiGatewayManagement } from '../adapters/aws-clients';
import { requireEnv } from '../config';
import { answerClientFrame, type RunActionHandlers } from '../core/connections/answer-client-frame';
import type { ConnectionNotifier } from '../core/ports/connection-notifier';
import type { TenantStore } from '../core/ports/tenant-store';
import { acceptChat, cancelRunFrame, type RunActionsDeps, resumeRun } from '../core/streaming/run-actions';
import type { WsEvent, WsResult } from '../middleware/ws/types';
import { tenantPrincipal, type WsLambdaContext, wsContext } from '../middleware/ws/ws-context';
import { createLogger, type Logger } from '../observability/logger';
import { ENV } from '../platform/env';
import { queueingChatDeps } from './wiring/chat';
import { runStreamStore, tenantStore, usageReader } from './wiring/stores';

export interface DefaultRouteDeps {
  notifier: ConnectionNotifier;
  store: TenantStore;
  logger: Logger;
  /**
   * The run actions' ports, built on first use (a `ping` needs none of them); absent, `chat`/`resume`/
   * `cancel` are answered `not_implemented`.
   */
  runs?: () => Omit<RunActionsDeps, 'notifier'>;
}

const runActionHandlers = (deps: () => RunActionsDeps): RunActionHandlers => ({
  chat: async (tenant, connectionId, frame) => {
    await acceptChat(deps(), { tenant, connectionId }, frame);
  },
  resume: (tenant, connectionId, frame) => resumeRun(deps(), { tenant, connectionId }, frame),
  cancel: (tenant, connectionId, frame) => cancelRunFrame(deps(), { tenant, connectionId }, frame),
});

export const createDefaultHandler = ({ notifier, store, logger, runs }: DefaultRouteDeps) => {
  let built: RunActionsDeps | undefined;
  const actions =
    runs &&
    runActionHandlers(() => {
      built ??= { ...runs(), notifier };
      return built;
    });
  return middy<WsEvent, WsResult, Error, WsLambdaContext>()
    .use(wsContext({ logger }))
    .handler(async (event, context) => {
      const { tenantId, keyId } = tenantPrincipal(event); // no tenant context: 401
      const { connectionId } = event.requestContext;
      const body =
        event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString() : event.body;
      // A caller that left meanwhile raises ConnectionGoneError, which wsContext answers with 200.
      const outcome = await answerClientFrame(
        { store, notifier, ...(actions && { runs: actions }) },
        { connectionId, tenantId, keyId, body },
      );
      if ('refused' in outcome) {
        context.log.warn('key no longer in good standing: error frame sent, connection closed', {
          key_id: keyId,
          code: outcome.refused.code,
          status_code: outcome.refused.statusCode,
        });
        return { statusCode: outcome.refused.statusCode };
      }
      if ('action' in outcome) {
        context.log.info('run action served', { action: outcome.action });
        return { statusCode: 200 };
      }
      const reply = outcome.answered;
      context.log.info('frame answered', {
        reply: reply.type,
        code: reply.type === 'error' ? reply.error.code : null,
      });
      return { statusCode: 200 };
    });
};

const env = requireEnv([ENV.wsManagementEndpoint]);
export const handler = createDefaultHandler({
  notifier: new ApiGatewayConnectionNotifier(apiGatewayManagement(env[ENV.wsManagementEndpoint])),
  store: tenantStore(),
  logger: createLogger({ service: 'ws-default' }),
  runs: () => ({ chat: queueingChatDeps(), streams: runStreamStore(), usage: usageReader() }),
});
