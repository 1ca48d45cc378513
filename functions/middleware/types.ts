// Middleware: the request shape our HTTP middlewares share (API Gateway HTTP API, payload 2.0).
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { RequestMeter } from '../core/quotas/request-meter';
import type { TenantRecord } from '../core/tenants/schemas';
import type { Logger } from '../observability/logger';

/** The authorizer context exactly as API Gateway passes it (flat strings; see handlers/authorizer-http.ts). */
export type AuthorizerContext =
  | { principal: 'admin' }
  | { principal: 'tenant'; tenantId: string; keyId: string }
  | { principal: 'anonymous'; authError: string };

/** Payload 2.0; `authorizer.lambda` is absent on routes without an authorizer. */
export type HttpEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: { lambda?: Record<string, unknown> | null } | null;
  };
};

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { headers?: Record<string, string> };

/** Per-request state the middlewares hand to each other and to the route. */
export interface HttpState {
  log: Logger;
  startedAt: number;
  principal?: AuthorizerContext;
  /** Set for tenant routes, after the key and tenant were re-checked. */
  tenant?: TenantRecord;
  /** The parsed JSON body, before validation. */
  json?: unknown;
  input?: { body: unknown; query: unknown; path: unknown };
  /** On routes counted with their first hold: the request's admission, for the use case to take. */
  meter?: RequestMeter;
  /** Headers every response to this request carries, errors included (the rate-limit headers). */
  responseHeaders?: Record<string, string>;
  /** What the route's prefetch started while the key was re-checked (see `PrefetchHook`). */
  prefetched?: PrefetchHandle;
}

/** One request's prefetch: `undo` gives back what it took unless the operation claimed it; once. */
export interface PrefetchHandle {
  undo(): Promise<void>;
}

/**
 * Work a function starts beside the key's re-check of a tenant route (see authenticate.ts), from the
 * authorizer's tenant id and the raw (untrusted, unvalidated) request. Its handle reaches the operation
 * as `prefetched`, to claim through the module that made it; `undoUnclaimedPrefetch` awaits its `undo`
 * before the answer. Undefined from `start`: nothing to start on this route.
 */
export interface PrefetchHook {
  start(request: {
    readonly operationId: string;
    readonly tenantId: string;
    readonly pathParameters: Readonly<Record<string, string | undefined>>;
    /** The raw body as text (decoded when base64), undefined when there is none. */
    readonly body: () => string | undefined;
  }): PrefetchHandle | undefined;
}

export type HttpRequest = Request<HttpEvent, HttpResponse, Error, Context, { http: HttpState }>;

/** Header lookup that ignores case: API Gateway lowercases names, hand-written events may not. */
export const header = (event: Pick<HttpEvent, 'headers'>, name: string): string | undefined => {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === wanted) return value;
  return undefined;
};

export const state = (request: HttpRequest): HttpState => {
  if (!request.internal.http) throw new Error('requestContext middleware must run first');
  return request.internal.http;
};

export type HttpMiddleware = MiddlewareObj<HttpEvent, HttpResponse, Error, Context, { http: HttpState }>;
