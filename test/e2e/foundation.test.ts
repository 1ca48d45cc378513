// e2e: the whole local platform over real HTTP and WebSocket clients, as a tenant's app and an
// operator would use it: admin creates a tenant and a key, the tenant calls its routes, and every
// way of being refused (revoked key, suspended tenant, wrong role, someone else's id) is checked.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DynamoConnectionStore } from '../../functions/adapters/dynamodb/connection-store';
import { HTTP_ROUTES } from '../../functions/platform/routes';
import { type CallOptions, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { afterInvocations } from '../helpers/platform-events';

let platform: TestPlatform;

/** The connections table as the running stage named it, read through the real adapter. */
const connectionStore = () => {
  const table = platform.platform.model.tables.find((candidate) =>
    candidate.logicalId.includes('Connections'),
  );
  const { dynamodb, region, credentials } = platform.platform.endpoints;
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamodb, region, credentials }));
  return new DynamoConnectionStore(client, table!.name);
};

const call = (path: string, init: CallOptions = {}) => platform.call(path, init);

const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  call(path, { ...init, key: platform.adminKey });

const createTenantWithKey = async (name: string) => {
  const tenant = await admin('/v1/tenants', { method: 'POST', body: { name } });
  expect(tenant.status).toBe(201);
  const key = await admin(`/v1/tenants/${tenant.body.id}/api-keys`, { method: 'POST', body: {} });
  expect(key.status).toBe(201);
  return { tenant: tenant.body, key: key.body };
};

beforeAll(async () => {
  platform = await startTestPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

describe('tenants and keys through the local platform', () => {
  it('serves the OpenAPI document with every route of the route table', async () => {
    const doc = await call('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1/);
    for (const route of HTTP_ROUTES) {
      const openApiPath = doc.body.paths[route.path];
      expect(openApiPath, route.path).toBeDefined();
      expect(openApiPath[route.method.toLowerCase()].operationId).toBe(route.operationId);
    }
  });

  it('lets a tenant key list its models with the official openai client', async () => {
    const { tenant, key } = await createTenantWithKey('models-co');
    const client = new OpenAI({ apiKey: key.key, baseURL: `${platform.httpUrl}/v1`, maxRetries: 0 });
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models.length).toBeGreaterThan(0);
    expect(new Set(models)).toEqual(new Set(tenant.models));
  });

  it('reports usage for every quota: nothing used yet but the requests that asked', async () => {
    const { tenant, key } = await createTenantWithKey('usage-co');
    const usage = await call('/v1/usage', { key: key.key });
    expect(usage.status).toBe(200);
    for (const [name, limit] of Object.entries(tenant.quotas)) {
      // The usage request itself is the tenant's first request of this minute.
      const used = name === 'requests_per_minute' ? 1 : 0;
      expect(usage.body[name], name).toMatchObject({ limit, used, reserved: 0 });
    }
    const again = await call('/v1/usage', { key: key.key });
    expect(again.body.requests_per_minute.used).toBe(2);
    expect(Number(again.headers.get('x-ratelimit-remaining-requests'))).toBe(
      tenant.quotas.requests_per_minute - 2,
    );
  });

  it('refuses a revoked key at once with 401, in the error envelope', async () => {
    const { tenant, key } = await createTenantWithKey('revoke-co');
    expect((await call('/v1/models', { key: key.key })).status).toBe(200);
    const revoked = await admin(`/v1/tenants/${tenant.id}/api-keys/${key.id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    const after = await call('/v1/models', { key: key.key });
    expect(after.status).toBe(401);
    expect(after.body.error).toMatchObject({ type: expect.any(String), code: expect.any(String) });
  });

  it("stops a suspended tenant's keys at once with 403, and lets them work again on reactivation", async () => {
    const { tenant, key } = await createTenantWithKey('suspend-co');
    expect((await call('/v1/models', { key: key.key })).status).toBe(200);
    expect(
      (await admin(`/v1/tenants/${tenant.id}`, { method: 'PATCH', body: { status: 'suspended' } })).status,
    ).toBe(200);
    const suspended = await call('/v1/models', { key: key.key });
    expect(suspended.status).toBe(403);
    expect(suspended.body.error.code).toBeTruthy();
    await admin(`/v1/tenants/${tenant.id}`, { method: 'PATCH', body: { status: 'active' } });
    expect((await call('/v1/models', { key: key.key })).status).toBe(200);
  });

  it('forbids a tenant key on admin routes (403) and rejects unknown keys (401)', async () => {
    const { key } = await createTenantWithKey('role-co');
    expect((await call('/v1/tenants', { key: key.key })).status).toBe(403);
    const unknown = await call('/v1/models', { key: `${key.key.slice(0, -4)}zzzz` });
    expect(unknown.status).toBe(401);
  });

  it("answers 404 for an unknown tenant and for another tenant's key, and changes nothing", async () => {
    const a = await createTenantWithKey('a-co');
    const b = await createTenantWithKey('b-co');
    expect((await admin('/v1/tenants/ten_doesnotexist')).status).toBe(404);
    const foreign = await admin(`/v1/tenants/${a.tenant.id}/api-keys/${b.key.id}`, { method: 'DELETE' });
    expect(foreign.status).toBe(404);
    expect((await call('/v1/models', { key: b.key.key })).status).toBe(200);
  });

  it('rejects bad admin input with 4xx envelopes and writes nothing', async () => {
    const before = await admin('/v1/tenants?limit=100');
    const cases: { body: unknown; raw?: string; contentType?: string; status: number }[] = [
      { body: undefined, raw: '{"name": ', status: 400 },
      { body: { name: 42 }, status: 400 },
      { body: { name: 'x', surprise: true }, status: 400 },
      { body: { name: 'x', plan: 'no-such-plan' }, status: 400 },
      { body: undefined, raw: JSON.stringify({ name: 'x' }), contentType: 'text/plain', status: 415 },
      { body: undefined, raw: JSON.stringify({ name: 'x'.repeat(2_000_000) }), status: 413 },
    ];
    for (const testCase of cases) {
      const response = await fetch(`${platform.httpUrl}/v1/tenants`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${platform.adminKey}`,
          'content-type': testCase.contentType ?? 'application/json',
        },
        body: testCase.raw ?? JSON.stringify(testCase.body),
      });
      expect(response.status, JSON.stringify(testCase).slice(0, 80)).toBe(testCase.status);
      const body = (await response.json()) as { error: { type: string; message: string } };
      expect(body.error.message).toBeTruthy();
    }
    const after = await admin('/v1/tenants?limit=100');
    expect(after.body.data.map((t: { id: string }) => t.id)).toEqual(
      before.body.data.map((t: { id: string }) => t.id),
    );
  });
});

describe('WebSocket through the local platform', () => {
  it('connects with an Authorization header, answers ping with pong, cleans up on close, refuses a bad key', async () => {
    const { tenant, key } = await createTenantWithKey('ws-co');
    const socket = new WebSocket(platform.wsUrl, { headers: { authorization: `Bearer ${key.key}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const pong = new Promise<Record<string, unknown>>((resolve) =>
      socket.once('message', (data) => resolve(JSON.parse(String(data)))),
    );
    socket.send(JSON.stringify({ action: 'ping' }));
    expect((await pong).type).toBe('pong');
    const connections = connectionStore();
    expect(await connections.countByTenant(tenant.id)).toBe(1);
    socket.close();
    // $disconnect removes the record.
    await afterInvocations(
      platform.platform.events,
      'ws-disconnect',
      async () => ((await connections.countByTenant(tenant.id)) === 0 ? true : undefined),
      { what: 'the connection record to be removed' },
    );

    const refused = new WebSocket(platform.wsUrl, { headers: { authorization: 'Bearer tk_dev_nope' } });
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      refused.once('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it('closes an open socket with an error frame once its key is revoked', async () => {
    const { tenant, key } = await createTenantWithKey('ws-revoke-co');
    const socket = new WebSocket(platform.wsUrl, { headers: { authorization: `Bearer ${key.key}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    expect((await admin(`/v1/tenants/${tenant.id}/api-keys/${key.id}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    const frames: Record<string, unknown>[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.send(JSON.stringify({ action: 'ping' }));
    await closed;
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});
