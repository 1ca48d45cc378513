// Integration: the local WebSocket API runs the $connect authorizer and route, routes by action, keeps the
// authorizer context, enforces API Gateway's size limits, and serves @connections to the real SDK client.

import { readFileSync } from 'node:fs';
import {
  ApiGatewayManagementApiClient,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildFixtureModel } from '../helpers/fixture-model';
import { type FixturePlatform, startFixturePlatform } from '../helpers/fixture-platform';
import { logLine } from '../helpers/platform-events';

const connectAuthorizerSample = JSON.parse(
  readFileSync(
    new URL('../helpers/fixtures/aws-events/apigw-websocket-connect-authorizer.json', import.meta.url),
    'utf8',
  ),
) as Record<string, unknown>;

interface Reply {
  type: string;
  routeKey: string;
  eventType: string;
  connectionId: string;
  messageId?: string;
  authorizer: Record<string, unknown> | null;
  body: string;
}

/** Opens a socket, or resolves with the HTTP status of the rejected handshake. */
const connect = (url: string, headers: Record<string, string> = {}): Promise<WebSocket | number> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
    });
    socket.once('error', reject);
  });

const open = async (url: string, token = 'tester'): Promise<WebSocket> => {
  const socket = await connect(url, { Authorization: `Bearer ${token}` });
  if (typeof socket === 'number') throw new Error(`handshake rejected with ${socket}`);
  return socket;
};

const nextMessage = (socket: WebSocket): Promise<string> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 10 s')), 10_000);
    socket.once('message', (data) => {
      clearTimeout(timer);
      resolve(String(data));
    });
  });

const closed = (socket: WebSocket): Promise<number> =>
  new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve(-1);
    socket.once('close', (code) => resolve(code));
  });

describe('local WebSocket API', () => {
  let fixture: FixturePlatform;
  let url: string;
  let management: ApiGatewayManagementApiClient;

  beforeAll(async () => {
    fixture = await startFixturePlatform();
    url = fixture.platform.wsUrl;
    const { endpoints } = fixture.platform;
    management = new ApiGatewayManagementApiClient({
      endpoint: url.replace(/^ws/, 'http'),
      region: endpoints.region,
      credentials: { ...endpoints.credentials },
    });
  });
  afterAll(async () => {
    management.destroy();
    await fixture.stop();
  });

  describe('$connect', () => {
    it('answers 401 without an Authorization header, 401 when the authorizer says Unauthorized', async () => {
      expect(await connect(url)).toBe(401);
      expect(await connect(url, { Authorization: 'Bearer unauthorized' })).toBe(401);
    });

    it('answers 403 when the authorizer denies or the $connect route answers 403', async () => {
      expect(await connect(url, { Authorization: 'Bearer deny-me' })).toBe(403);
      expect(await connect(`${url}?reject=1`, { Authorization: 'Bearer fine' })).toBe(403);
    });
  });

  it('routes ping and answers through the real @connections client, with the authorizer context', async () => {
    const socket = await open(url, 'acme');
    const reply = nextMessage(socket);

    socket.send(JSON.stringify({ action: 'ping' }));

    const pong = JSON.parse(await reply) as Reply;
    expect(pong.type).toBe('pong');
    expect(pong.routeKey).toBe('ping');
    expect(pong.eventType).toBe('MESSAGE');
    expect(pong.messageId).toBeTruthy();
    const { eventKeys, ...authorizer } = pong.authorizer as { eventKeys: string };
    expect(authorizer).toEqual({ principalId: 'user-acme', tenantId: 'ten_acme', eventType: 'CONNECT' });
    // The $connect authorizer got an event with the keys of a genuine one.
    expect(eventKeys.split(',')).toEqual(Object.keys(connectAuthorizerSample).sort());
    socket.close();
  });

  it('routes unknown actions and non-JSON bodies to $default', async () => {
    const socket = await open(url);

    const unknown = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'nope' }));
    const first = JSON.parse(await unknown) as Reply;
    const text = nextMessage(socket);
    socket.send('not json');
    const second = JSON.parse(await text) as Reply;

    expect(first.routeKey).toBe('$default');
    expect(second.routeKey).toBe('$default');
    expect(second.body).toBe('not json');
    socket.close();
  });

  it('tells the client when the integration fails', async () => {
    const socket = await open(url);
    const reply = nextMessage(socket);

    socket.send(JSON.stringify({ action: 'boom' }));

    expect(JSON.parse(await reply)).toMatchObject({ message: 'Internal server error' });
    socket.close();
  });

  it('serves GetConnection for a live connection and GoneException once it closed', async () => {
    const socket = await open(url);
    const reply = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'ping' }));
    const { connectionId } = JSON.parse(await reply) as Reply;

    const info = await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    const gone = closed(socket);
    socket.close();
    await gone;
    await logLine(fixture.platform.events, fixture.logs, [`disconnected ${connectionId} DISCONNECT`]);
    const post = management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'late' }));

    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');
    await expect(post).rejects.toBeInstanceOf(GoneException);
  });

  it('lets a function close a connection through DeleteConnection', async () => {
    const socket = await open(url);
    const code = closed(socket);

    socket.send(JSON.stringify({ action: 'kick' }));

    expect(await code).toBe(1000);
  });

  it('closes with 1009 when a frame exceeds 32 KB', async () => {
    const socket = await open(url);
    const code = closed(socket);

    socket.send('x'.repeat(32 * 1024 + 1));

    expect(await code).toBe(1009);
  });

  it('closes with 1009 when a message exceeds 128 KB even in frames under 32 KB', async () => {
    const socket = await open(url);
    const code = closed(socket);
    const frame = 'y'.repeat(30 * 1024);

    for (let index = 0; index < 5; index += 1) socket.send(frame, { fin: index === 4 });

    expect(await code).toBe(1009);
  });

  it('accepts a message of many frames within the limits', async () => {
    const socket = await open(url);
    const reply = nextMessage(socket);
    const body = JSON.stringify({ action: 'ping', pad: 'z'.repeat(60 * 1024) });

    socket.send(body.slice(0, 30 * 1024), { fin: false });
    socket.send(body.slice(30 * 1024, 60 * 1024), { fin: false });
    socket.send(body.slice(60 * 1024), { fin: true });

    expect((JSON.parse(await reply) as Reply).type).toBe('pong');
    socket.close();
  });
});

describe('local WebSocket API at shutdown', () => {
  it('runs $disconnect for a socket still open at stop, before the runtime stops, without a runtime error', async () => {
    // $disconnect on a function of its own, so it is still cold at stop: its INIT was what the runtime cut off.
    const base = buildFixtureModel();
    const handler = base.functions.find((fn) => fn.id === 'ws-handler')!;
    const model = {
      ...base,
      functions: [...base.functions, { ...handler, id: 'ws-disconnect', logicalId: 'WsDisconnectFunction' }],
      webSocketApi: {
        ...base.webSocketApi,
        routes: base.webSocketApi.routes.map((route) =>
          route.routeKey === '$disconnect' ? { ...route, functionId: 'ws-disconnect' } : route,
        ),
      },
    };
    const fixture = await startFixturePlatform({ model });
    const socket = await open(fixture.platform.wsUrl);
    const reply = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'ping' }));
    const { connectionId } = JSON.parse(await reply) as Reply;
    const code = closed(socket);

    await fixture.stop();

    expect(await code).toBe(1001);
    expect(fixture.logs).toContain(`[ws-disconnect] disconnected ${connectionId} DISCONNECT 1001`);
    expect(fixture.logs.filter((line) => /INIT_REPORT|Runtime\.|ERROR/.test(line))).toEqual([]);
  });
});
