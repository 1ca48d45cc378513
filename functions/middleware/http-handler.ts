// Middleware: composes our middlewares around a table of operations, so a handler module is a list
// of one-line operations. Dispatches on `event.routeKey` through the platform route table.
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import type { Context } from 'aws-lambda';
import type { TenantStore } from '../core/ports/tenant-store';
import type { RequestMeter } from '../core/quotas/request-meter';
import type { TenantRecord } from '../core/tenants/schemas';
import {
  type AuthOf,
  type BodyOf,
  CONTRACTS,
  type OperationContract,
  type OperationId,
  type PathOf,
  type QueryOf,
  type ResultOf,
} from '../handlers/http/contracts';
import { createLogger, type Logger } from '../observability/logger';
import { HTTP_ROUTES, routeKeyOf } from '../platform/routes';
import { authenticate, undoUnclaimedPrefetch } from './authenticate';
import { errorHandler } from './error-handler';
import { bodyBytes, jsonBody } from './json-body';
import { type RateLimitOptions, rateLimit } from './rate-limit';
import { requestContext } from './request-context';
import { HttpReply, jsonResponse, noContent } from './responses';
import { securityHeaders } from './security-headers';
import type {
  AuthorizerContext,
  HttpEvent,
  HttpResponse,
  HttpState,
  PrefetchHandle,
  PrefetchHook,
} from './types';
import { validate } from './validate';

/** What an operation receives: validated input, and the tenant on tenant routes. */
interface OperationInput<Op extends OperationId> {
  body: BodyOf<Op>;
  query: QueryOf<Op>;
  path: PathOf<Op>;
  tenant: AuthOf<Op> extends 'tenant' ? TenantRecord : undefined;
  principal: AuthorizerContext;
  log: Logger;
  event: HttpEvent;
  /** On routes counted with their first token hold: hand it to the use case (see RequestMeter). */
  meter?: RequestMeter;
  /** What the operation's prefetch (HttpHandlerOptions.prefetch) started while the key was re-checked. */
  prefetched?: PrefetchHandle;
}

/** An operation answers its contract's result, or an HttpReply when status, headers or framing vary. */
export type Operation<Op extends OperationId> = (
  input: OperationInput<Op>,
) => Promise<ResultOf<Op> | HttpReply> | ResultOf<Op> | HttpReply;
export type Operations = { [Op in OperationId]?: Operation<Op> };

export interface HttpHandlerOptions {
  /** Function id, for the logs. */
  service: string;
  /** Required when any operation is on a tenant route. */
  store?: TenantStore;
  /** Required when any operation is on a tenant route: every tenant request counts against its quota. */
  rateLimit?: RateLimitOptions;
  maxBodyBytes?: number;
  corsOrigins?: readonly string[];
  logger?: Logger;
  /**
   * Started alongside the key's re-check of each tenant route this function serves (see authenticate):
   * its handle reaches the operation as `prefetched`. Before validation, so it must treat the path
   * parameters and the body as untrusted.
   */
  prefetch?: PrefetchHook;
  /**
   * The invocation's X-Ray subsegment (observability/tracer.ts `invocationTracing()`), given by the
   * composition root: it brings the X-Ray SDK (~120 KiB) into the bundle, which a function that calls no
   * AWS service (openapi-doc) has no use for.
   */
  tracing?: middy.MiddlewareObj<HttpEvent, HttpResponse, Error, Context>;
}

const operationByRouteKey = new Map<string, OperationId>(
  HTTP_ROUTES.map((route) => [routeKeyOf(route), route.operationId]),
);

const CORS_HEADERS = 'Authorization,Content-Type,X-Session-Id,Idempotency-Key';
const CORS_EXPOSE = [
  'x-request-id',
  'Retry-After',
  ...['limit', 'remaining', 'reset'].flatMap((part) => [
    `x-ratelimit-${part}-requests`,
    `x-ratelimit-${part}-tokens`,
  ]),
].join(',');

/**
 * @example
 * export const handler = httpHandler(
 *   { getTenant: ({ path }) => getTenant(deps, path.id) },
 *   { service: 'account-api', store, rateLimit: { ledger, plans, defaultPlan } },
 * );
 */
export const httpHandler = (operations: Operations, options: HttpHandlerOptions) => {
  const logger = options.logger ?? createLogger({ service: options.service });
  const contractFor = (routeKey: string): OperationContract | undefined => {
    const op = operationByRouteKey.get(routeKey);
    return op && operations[op] ? CONTRACTS[op] : undefined;
  };

  const dispatch = async (
    event: HttpEvent,
    context: Context & { http?: HttpState },
  ): Promise<HttpResponse> => {
    const op = operationByRouteKey.get(event.routeKey);
    const run = op ? (operations[op] as Operation<OperationId> | undefined) : undefined;
    const http = context.http;
    if (!op || !run || !http)
      throw new Error(`route ${event.routeKey} reached a function that does not serve it`);
    const input = http.input ?? { body: undefined, query: undefined, path: undefined };
    const result = await run({
      body: input.body,
      query: input.query,
      path: input.path,
      tenant: http.tenant,
      principal: http.principal ?? { principal: 'anonymous', authError: 'missing_api_key' },
      log: http.log,
      event,
      ...(http.meter && { meter: http.meter }),
      ...(http.prefetched && { prefetched: http.prefetched }),
    } as OperationInput<OperationId>);
    if (result instanceof HttpReply) return result.toResponse();
    const { status } = CONTRACTS[op];
    return status === 204 ? noContent() : jsonResponse(status, result);
  };

  const handler = middy<HttpEvent, HttpResponse, Error, Context, { http: HttpState }>();
  if (options.tracing) handler.use(options.tracing);
  return (
    handler
      .use(requestContext({ logger }))
      .use(securityHeaders())
      .use(
        httpCors({
          origins: [...(options.corsOrigins ?? [])],
          headers: CORS_HEADERS,
          exposeHeaders: CORS_EXPOSE,
          methods: 'GET,POST,PATCH,PUT,DELETE,OPTIONS',
          maxAge: 600,
        }),
      )
      .use(errorHandler({ logger }))
      .use(
        authenticate({
          ...(options.store && { store: options.store }),
          prefetch: (event, tenantId) => {
            const op = operationByRouteKey.get(event.routeKey);
            if (!op || !operations[op] || !options.prefetch) return undefined;
            return options.prefetch.start({
              operationId: op,
              tenantId,
              pathParameters: event.pathParameters ?? {},
              body: () => bodyBytes(event)?.toString('utf8'),
            });
          },
        }),
      )
      .use(jsonBody({ ...(options.maxBodyBytes && { maxBytes: options.maxBodyBytes }) }))
      .use(validate({ schemasFor: contractFor }))
      .use(rateLimit(options.rateLimit ?? { plans: {}, defaultPlan: '' }))
      // Last, so its after and onError run first: what a prefetch took is given back before the request is
      // counted on its own (rateLimit) or answered.
      .use(undoUnclaimedPrefetch())
      .before((request) => {
        // The operation reads the per-request state from its context, not from middy internals.
        (request.context as Context & { http?: HttpState }).http = (
          request.internal as { http?: HttpState }
        ).http;
      })
      .handler(dispatch)
  );
};
