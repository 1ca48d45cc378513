// Platform manifest: the one route table. The CDK app creates an API Gateway route per row; the
// local platform reads those routes back from the synthesized template; handlers dispatch on routeKey.
import type { FunctionId } from './functions';

/** `none`: public; `tenant`: a tenant API key; `admin`: the admin key. */
export type RouteAuth = 'none' | 'tenant' | 'admin';
type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface HttpRoute {
  readonly method: HttpMethod;
  /** API Gateway path template, e.g. `/v1/tenants/{id}`. */
  readonly path: string;
  readonly function: FunctionId;
  readonly auth: RouteAuth;
  /** OpenAPI operationId, unique. */
  readonly operationId: string;
  readonly summary: string;
  /**
   * Tenant routes whose use case holds tokens: the request is counted against `requests_per_minute` by
   * its first hold, in the same write (see RequestMeter), rather than by a write of its own up front.
   */
  readonly countedWithHold?: boolean;
}

export interface WebSocketRoute {
  /** `$connect`, `$disconnect`, `$default`, or an `action` value. */
  readonly routeKey: string;
  readonly function: FunctionId;
}

export const HTTP_ROUTES = [
  {
    method: 'GET',
    path: '/openapi.json',
    function: 'openapi-doc',
    auth: 'none',
    operationId: 'getOpenApi',
    summary: 'This API as an OpenAPI 3.1 document',
  },

  {
    method: 'POST',
    path: '/v1/tenants',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'createTenant',
    summary: 'Create a tenant',
  },
  {
    method: 'GET',
    path: '/v1/tenants',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'listTenants',
    summary: 'List tenants',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{id}',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'getTenant',
    summary: 'Get a tenant',
  },
  {
    method: 'PATCH',
    path: '/v1/tenants/{id}',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'updateTenant',
    summary: 'Change plan, quotas, models, tools or status',
  },
  {
    method: 'POST',
    path: '/v1/tenants/{id}/api-keys',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'createApiKey',
    summary: 'Create an API key (shown once)',
  },
  {
    method: 'GET',
    path: '/v1/tenants/{id}/api-keys',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'listApiKeys',
    summary: 'List API keys (no secrets)',
  },
  {
    method: 'DELETE',
    path: '/v1/tenants/{id}/api-keys/{keyId}',
    function: 'tenants-api',
    auth: 'admin',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
  },

  {
    method: 'GET',
    path: '/v1/models',
    function: 'account-api',
    auth: 'tenant',
    operationId: 'listModels',
    summary: "The tenant's models, in OpenAI's list shape",
  },
  {
    method: 'GET',
    path: '/v1/usage',
    function: 'account-api',
    auth: 'tenant',
    operationId: 'getUsage',
    summary: 'Quota limits and usage',
  },
  {
    method: 'POST',
    path: '/v1/ws-tickets',
    function: 'account-api',
    auth: 'tenant',
    operationId: 'createWsTicket',
    summary: 'A single-use WebSocket connect ticket, valid for 60 seconds',
  },

  {
    method: 'POST',
    path: '/v1/sessions',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'createSession',
    summary: 'Create a session',
  },
  {
    method: 'GET',
    path: '/v1/sessions',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'listSessions',
    summary: 'List sessions, newest first',
  },
  {
    method: 'GET',
    path: '/v1/sessions/{id}',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'getSession',
    summary: 'Get a session',
  },
  {
    method: 'DELETE',
    path: '/v1/sessions/{id}',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'deleteSession',
    summary: 'Delete a session with its messages and runs',
  },
  {
    method: 'GET',
    path: '/v1/sessions/{id}/messages',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'listMessages',
    summary: "A session's messages, oldest first",
  },
  {
    method: 'GET',
    path: '/v1/runs/{id}',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'getRun',
    summary: 'Get a run',
  },
  {
    method: 'POST',
    path: '/v1/sessions/{id}/messages',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'sendMessage',
    summary: 'Send a message: 200 with the answer when the run ends in time, else 202 and the run continues',
    countedWithHold: true,
  },
  {
    method: 'POST',
    path: '/v1/runs/{id}/cancel',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'cancelRun',
    summary: 'Cancel a queued or running run',
  },
  {
    method: 'POST',
    path: '/v1/chat/completions',
    function: 'chat-api',
    auth: 'tenant',
    operationId: 'createChatCompletion',
    summary: 'OpenAI-compatible chat completion (stream: SSE framing, buffered by the HTTP API)',
    countedWithHold: true,
  },
] as const satisfies readonly HttpRoute[];

/** The WebSocket API selects routes on `$request.body.action`. */
export const WS_ROUTE_SELECTION_EXPRESSION = '$request.body.action';

export const WS_ROUTES = [
  { routeKey: '$connect', function: 'ws-connect' },
  { routeKey: '$disconnect', function: 'ws-disconnect' },
  { routeKey: '$default', function: 'ws-default' },
  { routeKey: 'ping', function: 'ws-default' },
] as const satisfies readonly WebSocketRoute[];

/** `GET /v1/tenants/{id}` as API Gateway writes it in `routeKey`. */
export const routeKeyOf = (route: Pick<HttpRoute, 'method' | 'path'>): string =>
  `${route.method} ${route.path}`;
