// Local platform: the HTTP API. Matches routes from the model, runs Lambda REQUEST authorizers with HTTP
// API semantics, and invokes the integration with a genuine payload format 2.0 event.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AuthorizerCache,
  apiGatewayId,
  apiGatewayTime,
  identitySourceValue,
  LOCAL_ACCOUNT_ID,
  policyAllows,
  traceId,
} from './apigw-common';
import type { InvokeResult } from './lambda-runtime';
import type { LocalAuthorizer, LocalHttpApi, LocalRoute } from './model';

export type Invoke = (functionId: string, event: unknown) => Promise<InvokeResult>;

export interface HttpServerOptions {
  readonly api: LocalHttpApi;
  readonly invoke: Invoke;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly apiId?: string;
  readonly region?: string;
  /** API Gateway's payload limit (10 MB). */
  readonly maxPayloadBytes?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const TEN_MB = 10 * 1024 * 1024;

interface CompiledRoute {
  readonly route: LocalRoute;
  readonly method: string;
  /** null for `$default`. */
  readonly segments: readonly string[] | null;
  readonly score: readonly number[];
}

interface RouteMatch {
  readonly route: LocalRoute;
  readonly pathParameters: Record<string, string>;
}

const segmentRank = (segment: string): number =>
  segment.endsWith('+}') ? 1 : segment.startsWith('{') ? 2 : 3;

const compile = (route: LocalRoute): CompiledRoute => {
  if (route.routeKey === '$default') return { route, method: 'ANY', segments: null, score: [0] };
  const [method = 'ANY', path = '/'] = route.routeKey.split(' ');
  const segments = path.split('/').filter(Boolean);
  // API Gateway prefers literal segments over {param} over {proxy+}, then a named method over ANY.
  return { route, method, segments, score: [1, ...segments.map(segmentRank), method === 'ANY' ? 0 : 1] };
};

const compareScores = (a: readonly number[], b: readonly number[]): number => {
  for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
    const difference = (b[index] ?? -1) - (a[index] ?? -1);
    if (difference !== 0) return difference;
  }
  return 0;
};

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

const matchPath = (
  segments: readonly string[],
  path: readonly string[],
): Record<string, string> | undefined => {
  const parameters: Record<string, string> = {};
  for (let index = 0; index < segments.length; index += 1) {
    const segment = segments[index]!;
    if (segment.endsWith('+}')) {
      const rest = path.slice(index);
      if (rest.length === 0) return undefined;
      parameters[segment.slice(1, -2)] = decode(rest.join('/'));
      return parameters;
    }
    const actual = path[index];
    if (actual === undefined) return undefined;
    if (segment.startsWith('{') && segment.endsWith('}')) parameters[segment.slice(1, -1)] = decode(actual);
    else if (segment !== actual) return undefined;
  }
  return path.length === segments.length ? parameters : undefined;
};

/**
 * Finds the route API Gateway would pick for a method and path, with its path parameters.
 *
 * @example
 * createRouter(api.routes)('GET', '/v1/tenants/ten_1'); // { route: GET /v1/tenants/{id}, pathParameters: { id: 'ten_1' } }
 */
export const createRouter = (routes: readonly LocalRoute[]) => {
  const compiled = routes.map(compile).sort((a, b) => compareScores(a.score, b.score));
  return (method: string, rawPath: string): RouteMatch | undefined => {
    const path = rawPath.split('/').filter(Boolean);
    for (const candidate of compiled) {
      if (candidate.method !== 'ANY' && candidate.method !== method) continue;
      if (candidate.segments === null) return { route: candidate.route, pathParameters: {} };
      const parameters = matchPath(candidate.segments, path);
      if (parameters) return { route: candidate.route, pathParameters: parameters };
    }
    return undefined;
  };
};

const TEXT_TYPES = [
  /^text\//,
  /[/+]json\b/,
  /[/+]xml\b/,
  /^application\/javascript\b/,
  /^application\/graphql\b/,
];

/** HTTP APIs hand text bodies over as they are and base64-encode everything else. */
const isTextContent = (contentType: string | undefined): boolean =>
  contentType !== undefined && TEXT_TYPES.some((pattern) => pattern.test(contentType.toLowerCase()));

const json = (
  response: ServerResponse,
  statusCode: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void => {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
};

class PayloadTooLargeError extends Error {
  constructor() {
    super('payload too large');
    this.name = 'PayloadTooLargeError';
  }
}

const readBody = (request: IncomingMessage, limit: number): Promise<Buffer> =>
  new Promise((resolveBody, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new PayloadTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        reject(new PayloadTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolveBody(Buffer.concat(chunks)));
    request.on('error', reject);
  });

/** Lower-cased headers with duplicates comma-joined; cookies apart, as payload format 2.0 has them. */
const collectHeaders = (request: IncomingMessage): { headers: Record<string, string>; cookies: string[] } => {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = request.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!.toLowerCase();
    const value = raw[index + 1] ?? '';
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((cookie) => cookie.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
};

const collectQuery = (rawQueryString: string): Record<string, string> => {
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  return query;
};

interface Cors {
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds?: number;
  readonly allowCredentials?: boolean;
}

const allowedOrigin = (cors: Cors, origin: string | undefined): string | undefined => {
  if (!origin) return undefined;
  if (cors.allowOrigins.includes('*')) return cors.allowCredentials ? origin : '*';
  return cors.allowOrigins.some((allowed) => allowed.toLowerCase() === origin.toLowerCase())
    ? origin
    : undefined;
};

/** The CORS headers API Gateway adds to an actual (not preflight) response. */
const corsResponseHeaders = (cors: Cors | undefined, origin: string | undefined): Record<string, string> => {
  if (!cors) return {};
  const allowed = allowedOrigin(cors, origin);
  if (!allowed) return {};
  return {
    'access-control-allow-origin': allowed,
    ...(cors.exposeHeaders.length > 0
      ? { 'access-control-expose-headers': cors.exposeHeaders.join(',') }
      : {}),
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    vary: 'origin',
  };
};

const preflightHeaders = (cors: Cors, request: IncomingMessage): Record<string, string> => {
  const allowed = allowedOrigin(cors, request.headers.origin);
  if (!allowed) return {};
  const requestedHeaders = request.headers['access-control-request-headers'];
  const allowHeaders =
    cors.allowHeaders.includes('*') && typeof requestedHeaders === 'string'
      ? requestedHeaders
      : cors.allowHeaders.join(',');
  return {
    'access-control-allow-origin': allowed,
    'access-control-allow-methods': cors.allowMethods.join(','),
    ...(allowHeaders ? { 'access-control-allow-headers': allowHeaders } : {}),
    ...(cors.maxAgeSeconds !== undefined ? { 'access-control-max-age': String(cors.maxAgeSeconds) } : {}),
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    vary: 'origin',
  };
};

type AuthorizerDecision =
  | { readonly kind: 'allow'; readonly context: unknown }
  | { readonly kind: 'deny' }
  | { readonly kind: 'unauthorized' }
  | { readonly kind: 'error' };

const interpretAuthorizer = (authorizer: LocalAuthorizer, result: InvokeResult): AuthorizerDecision => {
  if (!result.ok)
    return result.error.errorMessage === 'Unauthorized' ? { kind: 'unauthorized' } : { kind: 'error' };
  const payload = result.payload as { isAuthorized?: unknown; context?: unknown } | null;
  if (authorizer.simpleResponses) {
    if (typeof payload?.isAuthorized !== 'boolean') return { kind: 'error' };
    return payload.isAuthorized ? { kind: 'allow', context: payload.context ?? null } : { kind: 'deny' };
  }
  if (!payload || typeof payload !== 'object' || !('policyDocument' in payload)) return { kind: 'error' };
  return policyAllows(payload) ? { kind: 'allow', context: payload.context ?? null } : { kind: 'deny' };
};

/** The API Gateway v2 result mapping: `{statusCode, ...}` as is, anything else a 200 JSON body. */
const mapResult = (
  payload: unknown,
): { statusCode: number; headers: Record<string, string>; cookies: string[]; body: Buffer } => {
  if (payload && typeof payload === 'object' && 'statusCode' in payload) {
    const result = payload as {
      statusCode: unknown;
      headers?: Record<string, unknown>;
      cookies?: unknown;
      body?: unknown;
      isBase64Encoded?: unknown;
    };
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {}))
      headers[name.toLowerCase()] = String(value);
    const body =
      typeof result.body === 'string'
        ? result.body
        : result.body === undefined
          ? ''
          : JSON.stringify(result.body);
    return {
      statusCode: Number(result.statusCode),
      headers,
      cookies: Array.isArray(result.cookies) ? result.cookies.map(String) : [],
      body: result.isBase64Encoded === true ? Buffer.from(body, 'base64') : Buffer.from(body),
    };
  }
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(body ?? ''),
  };
};

/**
 * Serves an HTTP API from the model until `close()`.
 *
 * @example
 * const server = await startHttpServer({ api: model.httpApi, invoke: runtime.invoke, port: 3000 });
 * await fetch(`${server.url}/openapi.json`);
 */
export const startHttpServer = async (options: HttpServerOptions): Promise<RunningServer> => {
  const apiId = options.apiId ?? 'localhttp';
  const region = options.region ?? 'us-east-1';
  const limit = options.maxPayloadBytes ?? TEN_MB;
  const route = createRouter(options.api.routes);
  const cache = new AuthorizerCache<AuthorizerDecision>();
  const cors = options.api.cors;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = apiGatewayId();
    const baseHeaders = { 'apigw-requestid': requestId, 'x-amzn-requestid': requestId };
    const origin = request.headers.origin;
    const method = (request.method ?? 'GET').toUpperCase();
    const url = request.url ?? '/';
    const queryIndex = url.indexOf('?');
    const rawPath = queryIndex >= 0 ? url.slice(0, queryIndex) : url;
    const rawQueryString = queryIndex >= 0 ? url.slice(queryIndex + 1) : '';

    if (cors && method === 'OPTIONS' && origin && request.headers['access-control-request-method']) {
      request.resume();
      response.writeHead(204, { ...baseHeaders, ...preflightHeaders(cors, request) });
      response.end();
      return;
    }
    const errorHeaders = { ...baseHeaders, ...corsResponseHeaders(cors, origin) };

    let body: Buffer;
    try {
      body = await readBody(request, limit);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        json(
          response,
          413,
          { message: 'Request Entity Too Large' },
          { ...errorHeaders, connection: 'close' },
        );
        request.resume();
        return;
      }
      throw error;
    }

    const match = route(method, rawPath);
    if (!match) {
      json(response, 404, { message: 'Not Found' }, errorHeaders);
      return;
    }

    const { headers, cookies } = collectHeaders(request);
    const sourceIp = (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    headers['x-forwarded-for'] ??= sourceIp;
    headers['x-forwarded-port'] ??= String(request.socket.localPort ?? '');
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-amzn-trace-id'] ??= traceId();
    const query = collectQuery(rawQueryString);
    const host = headers.host ?? '127.0.0.1';
    const now = new Date();
    const routeKey = match.route.routeKey;
    const requestContext = {
      accountId: LOCAL_ACCOUNT_ID,
      apiId,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    };
    const optional = {
      ...(cookies.length > 0 ? { cookies } : {}),
      headers,
      ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    };
    const pathParameters =
      Object.keys(match.pathParameters).length > 0 ? { pathParameters: match.pathParameters } : {};

    let authorizerContext: Record<string, unknown> | undefined;
    const authorizer = match.route.authorizer;
    if (authorizer) {
      const identity = authorizer.identitySource.map((source) => identitySourceValue(source, headers, query));
      if (identity.some((value) => value === undefined)) {
        json(response, 401, { message: 'Unauthorized' }, errorHeaders);
        return;
      }
      const values = identity as string[];
      let decision = cache.get(authorizer, values);
      if (!decision) {
        const event = {
          version: '2.0',
          type: 'REQUEST',
          routeArn: `arn:aws:execute-api:${region}:${LOCAL_ACCOUNT_ID}:${apiId}/$default/${method}${rawPath}`,
          identitySource: values,
          routeKey,
          rawPath,
          rawQueryString,
          ...optional,
          requestContext,
          ...pathParameters,
        };
        decision = interpretAuthorizer(authorizer, await options.invoke(authorizer.functionId, event));
        if (decision.kind !== 'error') cache.set(authorizer, values, decision);
      }
      if (decision.kind === 'unauthorized')
        return json(response, 401, { message: 'Unauthorized' }, errorHeaders);
      if (decision.kind === 'deny') return json(response, 403, { message: 'Forbidden' }, errorHeaders);
      if (decision.kind === 'error') {
        return json(response, 500, { message: 'Internal Server Error' }, errorHeaders);
      }
      authorizerContext = { lambda: decision.context };
    }

    const text = isTextContent(headers['content-type']);
    const event = {
      version: '2.0',
      routeKey,
      rawPath,
      rawQueryString,
      ...optional,
      requestContext: { ...requestContext, ...(authorizerContext ? { authorizer: authorizerContext } : {}) },
      ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
      ...pathParameters,
      isBase64Encoded: body.length > 0 && !text,
    };

    const result = await options.invoke(match.route.functionId, event);
    if (!result.ok) {
      // A body under API Gateway's 10 MB that still exceeds Lambda's 6 MB payload never reaches the function.
      if (result.error.errorType === 'RequestTooLargeException') {
        json(response, 413, { message: 'Request Entity Too Large' }, errorHeaders);
        return;
      }
      json(response, 500, { message: 'Internal Server Error' }, errorHeaders);
      return;
    }
    const mapped = mapResult(result.payload);
    const headersOut: Record<string, string | string[]> = { ...mapped.headers };
    delete headersOut['content-length'];
    if (cors) {
      // With CORS configured, API Gateway answers CORS itself and ignores the integration's CORS headers.
      for (const name of Object.keys(headersOut))
        if (name.startsWith('access-control-')) delete headersOut[name];
    }
    Object.assign(headersOut, baseHeaders, corsResponseHeaders(cors, origin));
    if (mapped.cookies.length > 0) headersOut['set-cookie'] = mapped.cookies;
    headersOut['content-length'] = String(mapped.body.length);
    response.writeHead(mapped.statusCode, headersOut);
    response.end(method === 'HEAD' ? undefined : mapped.body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      process.stderr.write(`[http] ${String((error as Error)?.stack ?? error)}\n`);
      if (!response.headersSent) json(response, 500, { message: 'Internal Server Error' });
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close() {
      // Idempotent: the platform's stop sequence and its failed-start path may both call it.
      closed ??= new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      return closed;
    },
  };
};
