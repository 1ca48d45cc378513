// Integration: the WebSocket lifecycle through the local platform (real authorizer, $connect and
// $disconnect functions on DynamoDB Local) with a real `ws` client: tickets and concurrent_connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type CallOptions, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { afterInvocations } from '../helpers/platform-events';

let platform: TestPlatform;

const call = (path: string, init: CallOptions = {}) => platform.call(path, init);

const tenantWithKey = async (name: string, quotas: Record<string, number | null> = {}) => {
  const admin = { key: platform.adminKey };
  const tenant = await call('/v1/tenants', { ...admin, method: 'POST', body: { name, quotas } });
  expect(tenant.status).toBe(201);
  const key = await call(`/v1/tenants/${tenant.body.id}/api-keys`, { ...admin, method: 'POST', body: {} });
  expect(key.status).toBe(201);
  return { tenantId: tenant.body.id as string, keyId: key.body.id as string, key: key.body.key as string };
};

type Attempt = { status: number; socket: WebSocket };

/** Opens a socket; resolves with 101 and the open socket, or with the status the handshake was refused with. */
const connect = (options: { key?: string; ticket?: string }): Promise<Attempt> => {
  const url = options.ticket
    ? `${platform.wsUrl}?ticket=${encodeURIComponent(options.ticket)}`
    : platform.wsUrl;
  const socket = new WebSocket(
    url,
    options.key ? { headers: { authorization: `Bearer ${options.key}` } } : {},
  );
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_request, response) =>
      resolve({ status: response.statusCode ?? 0, socket }),
    );
    socket.once('error', (error) => reject(error));
  });
};

const close = (socket: WebSocket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    socket.once('close', () => resolve());
    socket.close();
  });

/**
 * Connects once the slots a closed socket held are free: its $disconnect runs after the close, so the
 * first attempt and each one after a finished ws-disconnect are tried until one is let in.
 */
const connectEventually = (options: { key: string }): Promise<Attempt> =>
  afterInvocations(
    platform.platform.events,
    'ws-disconnect',
    async () => {
      const attempt = await connect(options);
      return attempt.status === 101 ? attempt : undefined;
    },
    { timeoutMs: 20_000, what: 'a connection slot to be freed' },
  );

beforeAll(async () => {
  platform = await startTestPlatform();
}, 180_000);

afterAll(async () => {
  await platform?.stop();
});

describe('WebSocket tickets through the local platform', () => {
  it('a ticket from POST /v1/ws-tickets opens a socket once; reusing it is refused with 401', async () => {
    const { key } = await tenantWithKey('ticket-co');
    const issued = await call('/v1/ws-tickets', { key, method: 'POST' });
    expect(issued.status).toBe(201);

    const first = await connect({ ticket: issued.body.ticket });
    const second = await connect({ ticket: issued.body.ticket });

    expect(first.status).toBe(101);
    expect(second.status).toBe(401);
    const pong = new Promise((resolve) =>
      first.socket.once('message', (data) => resolve(JSON.parse(String(data)))),
    );
    first.socket.send(JSON.stringify({ action: 'ping' }));
    expect(await pong).toEqual({ type: 'pong' });
    await close(first.socket);
  });

  it('an unknown ticket is 401, and a ticket of a key revoked after issue is refused', async () => {
    const { tenantId, keyId, key } = await tenantWithKey('revoked-ticket-co');
    const issued = await call('/v1/ws-tickets', { key, method: 'POST' });
    const revoked = await call(`/v1/tenants/${tenantId}/api-keys/${keyId}`, {
      key: platform.adminKey,
      method: 'DELETE',
    });
    expect(revoked.status).toBe(204);

    expect((await connect({ ticket: `wst_${'Q'.repeat(43)}` })).status).toBe(401);
    expect((await connect({ ticket: issued.body.ticket })).status).toBe(401);
  });
});

describe('concurrent_connections through the local platform', () => {
  it('with a limit of 3, exactly 3 of 7 concurrent connects succeed and the rest get 429', async () => {
    const { key } = await tenantWithKey('three-sockets-co', { concurrent_connections: 3 });

    const attempts = await Promise.all(Array.from({ length: 7 }, () => connect({ key })));

    const statuses = attempts.map((attempt) => attempt.status).sort();
    expect(statuses.filter((status) => status === 101)).toHaveLength(3);
    expect(statuses.filter((status) => status !== 101)).toEqual([429, 429, 429, 429]);
    const usage = await call('/v1/usage', { key });
    expect(usage.body.concurrent_connections).toMatchObject({ limit: 3, reserved: 3 });
    await Promise.all(attempts.map((attempt) => close(attempt.socket)));
  });

  it('closing a socket frees its slot for the next connect', async () => {
    const { key } = await tenantWithKey('one-socket-co', { concurrent_connections: 1 });
    const first = await connect({ key });
    expect(first.status).toBe(101);
    expect((await connect({ key })).status).toBe(429);

    await close(first.socket);
    const next = await connectEventually({ key });

    expect(next.status).toBe(101);
    await close(next.socket);
  });
});
