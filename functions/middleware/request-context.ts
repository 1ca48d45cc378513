// Middleware: binds a logger to the request (request id, route key, later the tenant id) and writes one
// access log line per request with its status, latency and the AWS requests it made (per service: how
// many, and milliseconds on the wire, in all and per operation).
import { awsRequestTally, startAwsRequestTally } from '../observability/aws-requests';
import { createLogger, type Logger } from '../observability/logger';
import type { HttpMiddleware, HttpRequest } from './types';

export interface RequestContextOptions {
  logger?: Logger;
  now?: () => number;
}

const defaults: Required<RequestContextOptions> = {
  logger: createLogger(),
  now: () => performance.now(),
};

const tenths = (ms: number) => Math.round(ms * 10) / 10;

const roundedTally = () =>
  Object.fromEntries(
    Object.entries(awsRequestTally()).map(([service, { operationMs, wallMs, ...tally }]) => [
      service,
      {
        ...tally,
        ms: tenths(tally.ms),
        wall_ms: tenths(wallMs),
        operation_ms: Object.fromEntries(Object.entries(operationMs).map(([name, ms]) => [name, tenths(ms)])),
      },
    ]),
  );

/** The session or run a route addresses (`/v1/sessions/{id}...`, `/v1/runs/{id}...`), as a correlation id. */
const resourceIds = (routeKey: string | undefined, id: string | undefined): Record<string, string> => {
  if (!id || !routeKey) return {};
  if (routeKey.includes(' /v1/sessions/{id}')) return { session_id: id };
  if (routeKey.includes(' /v1/runs/{id}')) return { run_id: id };
  return {};
};

export const requestContext = (options: RequestContextOptions = {}): HttpMiddleware => {
  const { logger, now } = { ...defaults, ...options };

  const requestContextBefore = (request: HttpRequest) => {
    const { event, context } = request;
    startAwsRequestTally();
    logger.newInvocation?.();
    request.internal.http = {
      startedAt: now(),
      log: logger.child({
        request_id: event.requestContext?.requestId,
        route_key: event.routeKey,
        ...resourceIds(event.routeKey, event.pathParameters?.id),
        ...(context?.awsRequestId ? { aws_request_id: context.awsRequestId } : {}),
      }),
    };
  };

  const accessLog = (request: HttpRequest) => {
    const http = request.internal.http;
    if (!http) return;
    const status = request.response?.statusCode ?? 500;
    if (request.response && request.event.requestContext?.requestId) {
      request.response.headers = {
        ...request.response.headers,
        'x-request-id': request.event.requestContext.requestId,
      };
    }
    http.log.info('request', {
      method: request.event.requestContext?.http?.method,
      path: request.event.rawPath,
      status,
      latency_ms: Math.round((now() - http.startedAt) * 10) / 10,
      principal: http.principal?.principal,
      aws_requests: roundedTally(),
    });
  };

  return { before: requestContextBefore, after: accessLog, onError: accessLog };
};
