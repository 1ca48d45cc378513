// Local platform: the WebSocket API. Runs the $connect authorizer and route, routes messages by the route
// selection expression, enforces API Gateway's frame and message limits, and serves the @connections
// management API on the same port so the unmodified ApiGatewayManagementApiClient works against it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import {
  AuthorizerCache,
  apiGatewayId,
  apiGatewayTime,
  identitySourceValue,
  LOCAL_ACCOUNT_ID,
  policyAllows,
  traceId,
} from './apigw-common';
import type { Invoke, RunningServer } from './http-server';
import type { LocalRoute, LocalWebSocketApi } from './model';

export interface WsServerOptions {
  readonly api: LocalWebSocketApi;
  readonly invoke: Invoke;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly apiId?: string;
  readonly stage?: string;
  readonly region?: string;
  readonly frameLimitBytes?: number;
  readonly messageLimitBytes?: number;
  /**
   * How long `close()` waits for the `$disconnect` invocations of the sockets it closes (and of those that
   * closed just before), before it gives up on them.
   */
  readonly disconnectGraceMs?: number;
}

export interface RunningWsServer extends RunningServer {
  /** The @connections endpoint to give ApiGatewayManagementApiClient. */
  readonly managementEndpoint: string;
  /** Ids of the open connections. */
  connections(): string[];
}

const FRAME_LIMIT = 32 * 1024;
const DISCONNECT_GRACE_MS = 10_000;
const MESSAGE_LIMIT = 128 * 1024;

interface Connection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly connectedAt: number;
  readonly identity: { sourceIp: string; userAgent?: string };
  readonly authorizer: Record<string, unknown> | undefined;
  lastActiveAt: number;
}

interface Handshake {
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  readonly query: Record<string, string>;
  readonly multiValueQuery: Record<string, string[]>;
}

type ConnectDecision =
  | { readonly kind: 'allow'; readonly authorizer: Record<string, unknown> }
  | { readonly kind: 'reject'; readonly statusCode: number };

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

const rejectUpgrade = (socket: Duplex, statusCode: number): void => {
  const reason = STATUS_TEXT[statusCode] ?? 'Error';
  const body = JSON.stringify({ message: reason });
  socket.end(
    `HTTP/1.1 ${statusCode} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
};

/** Payload format 1.0 headers: the client's original casing, single and multi-value. */
const collectHeaders = (
  request: IncomingMessage,
): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } => {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const raw = request.rawHeaders;
  const add = (name: string, value: string): void => {
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  };
  for (let index = 0; index < raw.length; index += 2) add(raw[index]!, raw[index + 1] ?? '');
  // The headers API Gateway adds at its edge, in its casing.
  const present = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  const added: [string, string][] = [
    ['X-Amzn-Trace-Id', traceId()],
    ['X-Forwarded-For', (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '')],
    ['X-Forwarded-Port', String(request.socket.localPort ?? '')],
    ['X-Forwarded-Proto', 'http'],
  ];
  for (const [name, value] of added) if (!present.has(name.toLowerCase())) add(name, value);
  return { headers, multiValueHeaders };
};

const collectQuery = (
  search: string,
): { query: Record<string, string>; multiValueQuery: Record<string, string[]> } => {
  const query: Record<string, string> = {};
  const multiValueQuery: Record<string, string[]> = {};
  for (const [name, value] of new URLSearchParams(search)) {
    query[name] = value;
    multiValueQuery[name] = [...(multiValueQuery[name] ?? []), value];
  }
  return { query, multiValueQuery };
};

/** `$request.body.action` → the value at `action` of a JSON body; undefined when it cannot be selected. */
const selectRoute = (expression: string, body: string): string | undefined => {
  const match = /^\$request\.body\.(.+)$/.exec(expression);
  if (!match) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  for (const key of match[1]!.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === 'string' ? value : undefined;
};

const isSuccess = (payload: unknown): boolean => {
  if (!payload || typeof payload !== 'object' || !('statusCode' in payload)) return true;
  const statusCode = Number((payload as { statusCode: unknown }).statusCode);
  return statusCode >= 200 && statusCode < 300;
};

/**
 * Caps single frames, not only whole messages. `ws` checks only the message total (maxPayload), so the
 * receiver's length check is wrapped to close with 1009 as soon as one frame's declared length exceeds
 * the limit, before its payload is buffered.
 */
const limitFrameSize = (socket: WebSocket, limit: number): void => {
  const receiver = (socket as unknown as { _receiver?: Record<string, unknown> })._receiver;
  if (!receiver || typeof receiver.haveLength !== 'function') return;
  const original = (receiver.haveLength as (cb: unknown) => void).bind(receiver);
  receiver.haveLength = (cb: (error?: Error) => void) => {
    const length = receiver._payloadLength as number;
    const opcode = receiver._opcode as number;
    if (opcode < 0x08 && length > limit && typeof receiver.createError === 'function') {
      cb(
        (receiver.createError as (...args: unknown[]) => Error)(
          RangeError,
          'Frame size exceeded',
          false,
          1009,
          'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
        ),
      );
      return;
    }
    original(cb);
  };
};

const readBody = (request: IncomingMessage): Promise<Buffer> =>
  new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolveBody(Buffer.concat(chunks)));
    request.on('error', reject);
  });

/**
 * Serves a WebSocket API from the model, plus its @connections endpoint, until `close()`.
 *
 * @example
 * const ws = await startWsServer({ api: model.webSocketApi, invoke: runtime.invoke, port: 3001 });
 * new ApiGatewayManagementApiClient({ endpoint: ws.managementEndpoint });
 */
export const startWsServer = async (options: WsServerOptions): Promise<RunningWsServer> => {
  const apiId = options.apiId ?? 'localws';
  const stage = options.stage ?? 'local';
  const region = options.region ?? 'us-east-1';
  const frameLimit = options.frameLimitBytes ?? FRAME_LIMIT;
  const messageLimit = options.messageLimitBytes ?? MESSAGE_LIMIT;
  const routes = new Map<string, LocalRoute>(options.api.routes.map((route) => [route.routeKey, route]));
  const connections = new Map<string, Connection>();
  const cache = new AuthorizerCache<ConnectDecision>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: messageLimit });
  // $disconnect invocations still running; close() waits for them before the runtime may stop.
  const disconnecting = new Set<Promise<unknown>>();
  let closing = false;

  const baseContext = (
    connectionId: string,
    connectedAt: number,
    identity: Connection['identity'],
    host: string,
  ) => {
    const now = new Date();
    return {
      extendedRequestId: apiGatewayId(),
      requestTime: apiGatewayTime(now),
      messageDirection: 'IN',
      stage,
      connectedAt,
      requestTimeEpoch: now.getTime(),
      identity,
      requestId: apiGatewayId(),
      domainName: host,
      connectionId,
      apiId,
    };
  };

  const authorize = async (
    handshake: Handshake,
    connectionId: string,
    connectedAt: number,
    identity: Connection['identity'],
  ): Promise<ConnectDecision> => {
    const connectRoute = routes.get('$connect');
    const authorizer = connectRoute?.authorizer;
    if (!authorizer) return { kind: 'allow', authorizer: {} };
    const { headers, multiValueHeaders, query, multiValueQuery } = handshake;
    const identityValues = authorizer.identitySource.map((source) =>
      identitySourceValue(source, headers, query),
    );
    if (identityValues.some((value) => value === undefined)) return { kind: 'reject', statusCode: 401 };
    const values = identityValues as string[];
    const cached = cache.get(authorizer, values);
    if (cached) return cached;
    const host = headers.Host ?? headers.host ?? '127.0.0.1';
    const event = {
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:${region}:${LOCAL_ACCOUNT_ID}:${apiId}/${stage}/$connect`,
      headers,
      multiValueHeaders,
      queryStringParameters: query,
      multiValueQueryStringParameters: multiValueQuery,
      stageVariables: {},
      requestContext: {
        routeKey: '$connect',
        eventType: 'CONNECT',
        ...baseContext(connectionId, connectedAt, identity, host),
      },
      isBase64Encoded: false,
      body: null,
    };
    const result = await options.invoke(authorizer.functionId, event);
    let decision: ConnectDecision;
    if (!result.ok) {
      decision = { kind: 'reject', statusCode: result.error.errorMessage === 'Unauthorized' ? 401 : 500 };
      return decision;
    }
    const payload = result.payload as { principalId?: unknown; context?: Record<string, unknown> } | null;
    if (!payload || typeof payload !== 'object' || !('policyDocument' in payload)) {
      return { kind: 'reject', statusCode: 500 };
    }
    decision = policyAllows(payload)
      ? { kind: 'allow', authorizer: { principalId: payload.principalId, ...(payload.context ?? {}) } }
      : { kind: 'reject', statusCode: 403 };
    cache.set(authorizer, values, decision);
    return decision;
  };

  const routeEvent = (
    connection: Connection,
    host: string,
    routeKey: string,
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
    extra: Record<string, unknown>,
    contextExtra: Record<string, unknown> = {},
  ) => ({
    requestContext: {
      routeKey,
      eventType,
      ...contextExtra,
      ...baseContext(connection.id, connection.connectedAt, connection.identity, host),
      ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
    },
    ...extra,
  });

  const onUpgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    if (closing) {
      rejectUpgrade(socket, 503);
      return;
    }
    const connectionId = apiGatewayId();
    const connectedAt = Date.now();
    const userAgent = request.headers['user-agent'];
    const identity = {
      sourceIp: (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      ...(userAgent ? { userAgent } : {}),
    };
    // One set of headers for the authorizer and $connect, as API Gateway passes both the same request.
    const handshake: Handshake = {
      ...collectHeaders(request),
      ...collectQuery(new URL(request.url ?? '/', 'http://localhost').search),
    };
    const { headers, multiValueHeaders, query, multiValueQuery } = handshake;
    const decision = await authorize(handshake, connectionId, connectedAt, identity);
    if (decision.kind === 'reject') {
      rejectUpgrade(socket, decision.statusCode);
      return;
    }
    const authorizer = routes.get('$connect')?.authorizer ? decision.authorizer : undefined;
    const host = request.headers.host ?? '127.0.0.1';
    const connectRoute = routes.get('$connect');
    if (connectRoute) {
      const pending: Connection = {
        id: connectionId,
        socket: undefined as unknown as WebSocket,
        connectedAt,
        identity,
        authorizer,
        lastActiveAt: connectedAt,
      };
      const event = routeEvent(pending, host, '$connect', 'CONNECT', {
        headers,
        multiValueHeaders,
        ...(Object.keys(query).length > 0
          ? { queryStringParameters: query, multiValueQueryStringParameters: multiValueQuery }
          : {}),
        isBase64Encoded: false,
      });
      const result = await options.invoke(connectRoute.functionId, event);
      if (!result.ok) {
        rejectUpgrade(socket, 500);
        return;
      }
      if (!isSuccess(result.payload)) {
        rejectUpgrade(socket, Number((result.payload as { statusCode: unknown }).statusCode) || 500);
        return;
      }
    }
    if (socket.destroyed) return;
    if (closing) {
      rejectUpgrade(socket, 503);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      limitFrameSize(ws, frameLimit);
      const connection: Connection = {
        id: connectionId,
        socket: ws,
        connectedAt,
        identity,
        authorizer,
        lastActiveAt: connectedAt,
      };
      connections.set(connectionId, connection);
      ws.on('message', (data: RawData, isBinary: boolean) => {
        connection.lastActiveAt = Date.now();
        const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        const body = isBinary ? buffer.toString('base64') : buffer.toString('utf8');
        const selected = isBinary ? undefined : selectRoute(options.api.routeSelectionExpression, body);
        const route = (selected !== undefined ? routes.get(selected) : undefined) ?? routes.get('$default');
        const requestId = apiGatewayId();
        if (!route || route.routeKey === '$connect' || route.routeKey === '$disconnect') {
          ws.send(JSON.stringify({ message: 'Forbidden', connectionId, requestId }));
          return;
        }
        const event = routeEvent(
          connection,
          host,
          route.routeKey,
          'MESSAGE',
          { body, isBase64Encoded: isBinary },
          { messageId: apiGatewayId() },
        );
        void options.invoke(route.functionId, event).then((result) => {
          if (!result.ok && ws.readyState === WebSocket.OPEN) {
            ws.send(JSON.stringify({ message: 'Internal server error', connectionId, requestId }));
          }
        });
      });
      ws.on('error', () => {
        // ws closes the socket itself (1009 for oversize frames); the close handler runs $disconnect.
      });
      ws.on('close', (code: number, reason: Buffer) => {
        connections.delete(connectionId);
        const disconnectRoute = routes.get('$disconnect');
        if (!disconnectRoute) return;
        const event = routeEvent(
          connection,
          host,
          '$disconnect',
          'DISCONNECT',
          { headers, multiValueHeaders, isBase64Encoded: false },
          { disconnectStatusCode: code, disconnectReason: reason.toString() },
        );
        const invocation = options.invoke(disconnectRoute.functionId, event).catch(() => undefined);
        disconnecting.add(invocation);
        void invocation.finally(() => disconnecting.delete(invocation));
      });
    });
  };

  const gone = (response: ServerResponse): void => {
    const body = JSON.stringify({ message: null });
    response.writeHead(410, {
      'content-type': 'application/json',
      'x-amzn-ErrorType': 'GoneException',
      'x-amzn-RequestId': apiGatewayId(),
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  };

  const onManagement = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const match = /\/@connections\/([^/]+)$/.exec(path);
    if (!match) {
      const body = JSON.stringify({ message: 'Not Found' });
      response.writeHead(404, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      response.end(body);
      return;
    }
    const connectionId = decodeURIComponent(match[1]!);
    const body = await readBody(request);
    const connection = connections.get(connectionId);
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) return gone(response);
    switch (request.method) {
      case 'POST': {
        if (body.length > messageLimit) {
          const error = JSON.stringify({ message: 'Message too long' });
          response.writeHead(413, {
            'content-type': 'application/json',
            'x-amzn-ErrorType': 'PayloadTooLargeException',
            'content-length': Buffer.byteLength(error),
          });
          response.end(error);
          return;
        }
        connection.socket.send(body.toString('utf8'));
        response.writeHead(200, { 'content-length': 0 });
        response.end();
        return;
      }
      case 'GET': {
        const info = JSON.stringify({
          connectedAt: new Date(connection.connectedAt).toISOString(),
          identity: connection.identity,
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
        });
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(info),
        });
        response.end(info);
        return;
      }
      case 'DELETE': {
        connection.socket.close(1000);
        response.writeHead(204);
        response.end();
        return;
      }
      default: {
        response.writeHead(405, { allow: 'GET, POST, DELETE', 'content-length': 0 });
        response.end();
      }
    }
  };

  const server = createServer((request, response) => {
    onManagement(request, response).catch((error: unknown) => {
      process.stderr.write(`[ws @connections] ${String((error as Error)?.stack ?? error)}\n`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    onUpgrade(request, socket, head).catch((error: unknown) => {
      process.stderr.write(`[ws] ${String((error as Error)?.stack ?? error)}\n`);
      if (!socket.destroyed) rejectUpgrade(socket, 500);
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, options.host ?? '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;

  // Like a stage going away: every socket is closed with 1001 and its $disconnect runs, while the
  // @connections endpoint still answers, so the functions run to their end before the runtime stops.
  const close = async (): Promise<void> => {
    closing = true;
    const grace = options.disconnectGraceMs ?? DISCONNECT_GRACE_MS;
    const deadline = Date.now() + grace;
    const sockets = [...connections.values()].map((connection) => connection.socket);
    const socketsClosed = sockets.map(
      (socket) =>
        new Promise<void>((resolveClosed) => {
          if (socket.readyState === WebSocket.CLOSED) resolveClosed();
          else socket.once('close', () => resolveClosed());
        }),
    );
    for (const socket of sockets) socket.close(1001, 'Going away');
    // A client that never answers the close frame must not hold the shutdown up.
    const terminate = setTimeout(
      () => {
        for (const socket of sockets) socket.terminate();
      },
      Math.min(1_000, grace),
    );
    await Promise.all(socketsClosed);
    clearTimeout(terminate);
    // The close handlers have now started every $disconnect; wait for them, bounded.
    while (disconnecting.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...disconnecting]),
        new Promise((resolveWait) => {
          timer = setTimeout(resolveWait, deadline - Date.now());
        }),
      ]);
      clearTimeout(timer);
    }
    if (disconnecting.size > 0) {
      process.stderr.write(
        `[ws] ${disconnecting.size} $disconnect invocation(s) still running after ${grace} ms; stopping anyway\n`,
      );
    }
    await new Promise<void>((resolveClose) => {
      wss.close(() => resolveClose());
    });
    await new Promise<void>((resolveClose) => {
      server.close(() => resolveClose());
      server.closeAllConnections();
    });
  };
  let stopped: Promise<void> | undefined;

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    managementEndpoint: `http://127.0.0.1:${port}`,
    connections: () => [...connections.keys()],
    close() {
      stopped ??= close();
      return stopped;
    },
  };
};
