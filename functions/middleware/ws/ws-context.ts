// Middleware: structured logs for WebSocket routes and an error mapping that never crashes a connection.
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { ConnectionGoneError } from '../../core/connections/errors';
import { AuthenticationError, isTenanticError } from '../../core/errors';
import type { PlatformMetrics } from '../../core/ports/platform-metrics';
import { QuotaExceededError } from '../../core/quotas/errors';
import type { Logger } from '../../observability/logger';
import { platformMetrics } from '../../observability/powertools-metrics';
import { invocationTracing } from '../../observability/tracer';
import type { WsEvent, WsResult } from './types';

export interface WsContextOptions {
  logger: Logger;
  /** Counts quota refusals; default the function's Powertools metrics. */
  metrics?: PlatformMetrics;
}

/** Handlers read their request-scoped logger from `context.log`. */
export type WsLambdaContext = Context & { log: Logger };

const defaults: Partial<WsContextOptions> = {};

/** The tenant the authorizer resolved (see the authorizer's contract in functions/handlers/authorizer-ws.ts). */
const TenantPrincipalSchema = z.object({
  tenantId: z.string().min(1),
  keyId: z.string().min(1),
  principal: z.literal('tenant').optional(),
});
export type TenantPrincipal = z.infer<typeof TenantPrincipalSchema>;

/**
 * The tenant behind this connection, from `requestContext.authorizer`.
 * Throws AuthenticationError (401) when the authorizer context is missing or not a tenant's.
 *
 * @example
 * const { tenantId, keyId } = tenantPrincipal(event);
 */
export const tenantPrincipal = (event: WsEvent): TenantPrincipal => {
  const parsed = TenantPrincipalSchema.safeParse(event.requestContext.authorizer);
  if (!parsed.success) throw new AuthenticationError('unauthenticated', 'no tenant authorizer context');
  return parsed.data;
};

/**
 * Binds a logger carrying connection id, route key and tenant id to `context.log`, logs each served
 * route, and turns errors into a status code instead of a crashed invocation: a gone caller is 200,
 * a domain error its own status, and only a genuine bug 500.
 *
 * @example
 * middy<WsEvent, WsResult>().use(wsContext({ logger })).handler(async (event, context) => ({ statusCode: 200 }));
 */
export const wsContext = (
  options: WsContextOptions,
): MiddlewareObj<WsEvent, WsResult, Error, WsLambdaContext> => {
  const { logger, metrics } = { ...defaults, ...options };
  // The invocation's X-Ray subsegment, opened first and closed last.
  const trace = invocationTracing();

  const wsContextBefore = (request: Request<WsEvent, WsResult, Error, WsLambdaContext>) => {
    const { requestContext } = request.event;
    const tenantId = requestContext.authorizer?.tenantId;
    trace.before?.(request as never);
    logger.newInvocation?.();
    request.context.log = logger.child({
      connection_id: requestContext.connectionId,
      route_key: requestContext.routeKey,
      event_type: requestContext.eventType,
      request_id: requestContext.requestId,
      aws_request_id: request.context.awsRequestId,
      tenant_id: typeof tenantId === 'string' ? tenantId : undefined,
    });
  };

  const wsContextAfter = (request: Request<WsEvent, WsResult, Error, WsLambdaContext>) => {
    request.context.log.info('ws route served', { status_code: request.response?.statusCode });
    trace.after?.(request as never);
  };

  const wsContextOnError = (request: Request<WsEvent, WsResult, Error, WsLambdaContext>) => {
    const log = request.context.log ?? logger;
    const error = request.error;
    if (error instanceof ConnectionGoneError) {
      log.info('caller gone before the reply', { status_code: 200 });
      request.response = { statusCode: 200 };
    } else if (isTenanticError(error) && error.statusCode < 500) {
      if (error instanceof QuotaExceededError) {
        const tenantId = request.event.requestContext.authorizer?.tenantId;
        (metrics ?? platformMetrics()).quotaRefused({
          kind: error.quota,
          tenantId: typeof tenantId === 'string' ? tenantId : undefined,
        });
      }
      // Expected refusals: the reason is enough, a stack trace would only be noise.
      log.warn('ws route refused', {
        status_code: error.statusCode,
        code: error.code,
        reason: error.message,
      });
      request.response = { statusCode: error.statusCode };
    } else if (isTenanticError(error) && error.expose) {
      log.error('ws route failed upstream', { status_code: error.statusCode, code: error.code, error });
      request.response = { statusCode: error.statusCode };
    } else {
      log.error('ws route bug', { status_code: 500, error });
      request.response = { statusCode: 500 };
    }
    trace.onError?.(request as never);
  };

  return { before: wsContextBefore, after: wsContextAfter, onError: wsContextOnError, name: 'wsContext' };
};
