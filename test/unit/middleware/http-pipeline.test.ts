// The middleware stack through the real handler factories with in-memory fakes: every bad input of the
// Foundation issue gets its own 4xx in the envelope, and nothing is written when a request fails.
import { describe, expect, it, vi } from 'vitest';
import { InMemoryQuotaLedger } from '../../helpers/quota-fakes';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createTenantsApi } = await import('../../../functions/handlers/tenants-api');
const { createAccountApi } = await import('../../../functions/handlers/account-api');
const { PLANS, manualClock, memoryLogger, lambdaContext, loadEvent, seedSampleTenant, settings, tenantDeps } =
  await import('../../helpers/tenant-fakes');
const { newId } = await import('../../../functions/core/ids');

type Response = { statusCode: number; headers: Record<string, string>; body: string };

const setup = async (options: { maxBodyBytes?: number } = {}) => {
  const deps = tenantDeps();
  const { logger, lines } = memoryLogger();
  const api = createTenantsApi(deps, {
    maxBodyBytes: options.maxBodyBytes ?? 512,
    corsOrigins: ['https://console.example.com'],
    logger,
  });
  const call = async (event: Record<string, unknown>) => {
    const response = (await api(event as never, lambdaContext())) as Response;
    return { ...response, json: response.body ? JSON.parse(response.body) : undefined };
  };
  return { deps, call, lines };
};

const createEvent = (body: string | undefined, headers: Record<string, string> = {}) => {
  const event = loadEvent('tenants-api', 'create-tenant');
  event.body = body;
  event.headers = { ...event.headers, ...headers };
  return event;
};

const expectEnvelope = (json: unknown, error: Record<string, unknown>) =>
  expect(json).toMatchObject({ error: { type: expect.any(String), message: expect.any(String), ...error } });

describe('tenants-api happy paths', () => {
  it('creates a tenant: 201, JSON, security headers, request id, and one access log line', async () => {
    const { call, lines, deps } = await setup();

    const response = await call(loadEvent('tenants-api', 'create-tenant'));

    expect(response.statusCode).toBe(201);
    expect(response.headers['Content-Type']).toMatch(/^application\/json/);
    expect(response.json).toMatchObject({ object: 'tenant', name: 'Acme Robotics', plan: 'free' });
    expect(deps.store.tenants.has(response.json.id)).toBe(true);
    expect(response.headers['Strict-Transport-Security']).toMatch(/max-age=\d+/);
    expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
    expect(response.headers['Cache-Control']).toBe('no-store');
    expect(response.headers['x-request-id']).toBeTruthy();
    const access = lines.filter((line) => line.message === 'request');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      status: 201,
      route_key: 'POST /v1/tenants',
      request_id: expect.any(String),
    });
    expect(access[0]?.latency_ms).toEqual(expect.any(Number));
  });

  it('accepts a base64-encoded JSON body', async () => {
    const { call } = await setup();
    const event = createEvent(Buffer.from(JSON.stringify({ name: 'Base64 Inc' })).toString('base64'));
    event.isBase64Encoded = true;

    const response = await call(event);

    expect(response.statusCode).toBe(201);
    expect(response.json.name).toBe('Base64 Inc');
  });

  it('accepts JSON content types with parameters and +json suffixes', async () => {
    const { call } = await setup();
    const withCharset = await call(
      createEvent(JSON.stringify({ name: 'A' }), { 'content-type': 'application/json; charset=utf-8' }),
    );
    const suffixed = await call(
      createEvent(JSON.stringify({ name: 'B' }), { 'content-type': 'application/merge-patch+json' }),
    );
    expect(withCharset.statusCode).toBe(201);
    expect(suffixed.statusCode).toBe(201);
  });

  it('revokes a key with 204 and no body', async () => {
    const { call, deps } = await setup();
    const { tenantId, keyId } = await seedSampleTenant(deps.store);

    const response = await call(loadEvent('tenants-api', 'revoke-api-key'));

    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect(deps.store.keys.get(keyId)?.revoked_at).not.toBeNull();
    expect(deps.store.tenants.has(tenantId)).toBe(true);
  });

  it('answers CORS for a configured origin only', async () => {
    const { call } = await setup();

    const allowed = await call(loadEvent('tenants-api', 'list-tenants'));
    const fromConsole = await call({
      ...loadEvent('tenants-api', 'list-tenants'),
      headers: { ...loadEvent('tenants-api', 'list-tenants').headers, origin: 'https://console.example.com' },
    });
    const fromElsewhere = await call({
      ...loadEvent('tenants-api', 'list-tenants'),
      headers: { ...loadEvent('tenants-api', 'list-tenants').headers, origin: 'https://evil.example.net' },
    });

    expect(allowed.statusCode).toBe(200);
    expect(fromConsole.headers['Access-Control-Allow-Origin']).toBe('https://console.example.com');
    expect(fromElsewhere.headers['Access-Control-Allow-Origin']).toBeUndefined();
  });
});

describe('tenants-api bad input: each its own 4xx, nothing written', () => {
  it('malformed JSON → 400 invalid_json', async () => {
    const { call, deps } = await setup();
    const response = await call(createEvent('{"name": "Acme",'));
    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { type: 'invalid_request_error', code: 'invalid_json' });
    expect(deps.store.tenants.size).toBe(0);
  });

  it('wrong types → 400 invalid_body naming the field', async () => {
    const { call, deps } = await setup();
    const response = await call(
      createEvent(JSON.stringify({ name: 42, quotas: { tokens_per_month: 'lots' } })),
    );
    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { code: 'invalid_body', param: 'name' });
    expect(response.json.error.message).toContain('name:');
    expect(response.json.error.message).toContain('quotas.tokens_per_month:');
    expect(deps.store.tenants.size).toBe(0);
  });

  it('unknown fields → 400 naming every one of them', async () => {
    const { call, deps } = await setup();
    const response = await call(
      createEvent(JSON.stringify({ name: 'Acme', colour: 'red', quotas: { gpus: 1 } })),
    );
    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { code: 'invalid_body' });
    expect(response.json.error.message).toContain('colour: unknown field');
    expect(response.json.error.message).toContain('quotas.gpus: unknown field');
    expect(deps.store.tenants.size).toBe(0);
  });

  it('names array elements OpenAI-style: models[1]', async () => {
    const { call } = await setup();
    const response = await call(createEvent(JSON.stringify({ name: 'Acme', models: ['gpt-4o', 7] })));
    expectEnvelope(response.json, { code: 'invalid_body', param: 'models[1]' });
  });

  it('a missing body where one is required → 400 invalid_body', async () => {
    const { call } = await setup();
    const response = await call(createEvent(undefined));
    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { code: 'invalid_body' });
  });

  it('oversized body → 413', async () => {
    const { call, deps } = await setup({ maxBodyBytes: 64 });
    const response = await call(createEvent(JSON.stringify({ name: 'x'.repeat(100) })));
    expect(response.statusCode).toBe(413);
    expectEnvelope(response.json, { code: 'body_too_large' });
    expect(deps.store.tenants.size).toBe(0);
  });

  it('wrong content type → 415', async () => {
    const { call, deps } = await setup();
    const response = await call(
      createEvent(JSON.stringify({ name: 'Acme' }), { 'content-type': 'text/plain' }),
    );
    expect(response.statusCode).toBe(415);
    expectEnvelope(response.json, { code: 'unsupported_media_type' });
    expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
    expect(response.headers['Cache-Control']).toBe('no-store');
    expect(deps.store.tenants.size).toBe(0);
  });

  it('unknown plan → 400 naming plan', async () => {
    const { call, deps } = await setup();
    const response = await call(createEvent(JSON.stringify({ name: 'Acme', plan: 'platinum' })));
    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { code: 'unknown_plan', param: 'plan' });
    expect(deps.store.tenants.size).toBe(0);
  });

  it('an empty PATCH → 400', async () => {
    const { call, deps } = await setup();
    await seedSampleTenant(deps.store);
    const event = loadEvent('tenants-api', 'update-tenant');
    event.body = '{}';
    const response = await call(event);
    expect(response.statusCode).toBe(400);
    expect(response.json.error.message).toContain('at least one field');
  });

  it('unknown id → 404, malformed id → 404', async () => {
    const { call } = await setup();
    const unknown = loadEvent('tenants-api', 'get-tenant');
    const malformed = loadEvent('tenants-api', 'get-tenant');
    malformed.pathParameters = { id: 'ten_../../etc' };

    const first = await call(unknown);
    const second = await call(malformed);

    expect(first.statusCode).toBe(404);
    expectEnvelope(first.json, { type: 'not_found_error', code: 'tenant_not_found' });
    expect(second.statusCode).toBe(404);
  });

  it('a bad limit or an unknown query parameter → 400 invalid_query', async () => {
    const { call } = await setup();
    const badLimit = loadEvent('tenants-api', 'list-tenants');
    badLimit.queryStringParameters = { limit: '1000' };
    const unknown = loadEvent('tenants-api', 'list-tenants');
    unknown.queryStringParameters = { order: 'desc' };

    expectEnvelope((await call(badLimit)).json, { code: 'invalid_query', param: 'limit' });
    expectEnvelope((await call(unknown)).json, { code: 'invalid_query', param: 'order' });
  });

  it('a tampered cursor → 400 invalid_cursor', async () => {
    const { call } = await setup();
    const event = loadEvent('tenants-api', 'list-tenants');
    event.queryStringParameters = { after: Buffer.from('{"v":1,"id":"KEYHASH#x"}').toString('base64url') };

    const response = await call(event);

    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { code: 'invalid_cursor', param: 'after' });
  });

  it('a body on key creation must be empty or {}', async () => {
    const { call, deps } = await setup();
    await seedSampleTenant(deps.store);
    const event = loadEvent('tenants-api', 'create-api-key');
    event.body = JSON.stringify({ scopes: ['all'] });
    event.headers['content-type'] = 'application/json';

    const response = await call(event);

    expect(response.statusCode).toBe(400);
    expectEnvelope(response.json, { param: 'scopes' });
    expect(deps.store.keys.size).toBe(1);
  });
});

describe('authentication on admin routes', () => {
  it('no key → 401 invalid_api_key, and nothing is written', async () => {
    const { call, deps } = await setup();
    const response = await call(loadEvent('tenants-api', 'anonymous-create-tenant'));
    expect(response.statusCode).toBe(401);
    expectEnvelope(response.json, { type: 'authentication_error', code: 'invalid_api_key' });
    expect(deps.store.tenants.size).toBe(0);
  });

  it('a tenant key on an admin route → 403', async () => {
    const { call, deps } = await setup();
    await seedSampleTenant(deps.store);
    const response = await call(loadEvent('tenants-api', 'tenant-key-on-admin-route'));
    expect(response.statusCode).toBe(403);
    expectEnvelope(response.json, { type: 'permission_error', code: 'admin_key_required' });
  });

  it('a route this function does not serve → 404 route_not_found', async () => {
    const { call } = await setup();
    const event = loadEvent('tenants-api', 'list-tenants');
    event.routeKey = 'GET /v1/secrets';
    const response = await call(event);
    expect(response.statusCode).toBe(404);
  });
});

describe('a bug', () => {
  it('→ 500 with a generic message, logged with its stack', async () => {
    const { call, deps, lines } = await setup();
    deps.store.listTenants = async () => {
      throw new TypeError('cannot read properties of undefined (secret detail)');
    };

    const response = await call(loadEvent('tenants-api', 'list-tenants'));

    expect(response.statusCode).toBe(500);
    expectEnvelope(response.json, { type: 'api_error' });
    expect(response.body).not.toContain('secret detail');
    const logged = lines.find((line) => line.level === 'error') as { error?: { stack?: string } } | undefined;
    expect(logged?.error?.stack).toContain('secret detail');
  });
});

describe('a request that runs out of time', () => {
  it('→ 504 in the envelope, before Lambda kills it', async () => {
    const { deps } = await setup();
    deps.store.listTenants = () => new Promise(() => {});
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => 50 };
    const { createTenantsApi: create } = await import('../../../functions/handlers/tenants-api');
    const api = create(deps, { logger: memoryLogger().logger });

    const response = (await api(loadEvent('tenants-api', 'list-tenants'), context as never)) as Response;

    expect(response.statusCode).toBe(504);
    expect(JSON.parse(response.body)).toMatchObject({ error: { type: 'upstream_error', code: 'timeout' } });
  });
});

describe('account-api: the tenant is re-checked on every request', () => {
  const account = async () => {
    const deps = tenantDeps();
    const { logger, lines } = memoryLogger();
    const usage = {
      readCounters: vi.fn(
        async () =>
          Object.fromEntries(
            Object.keys(PLANS.free).map((name) => [
              name,
              { used: name === 'tokens_per_month' ? 42 : 0, reserved: 0 },
            ]),
          ) as never,
      ),
    };
    const ledger = new InMemoryQuotaLedger();
    const api = createAccountApi(
      { store: deps.store, usage, ledger, clock: manualClock(), settings },
      { logger },
    );
    const call = async (event: Record<string, unknown>) => {
      const response = (await api(event as never, lambdaContext())) as Response;
      return { ...response, json: response.body ? JSON.parse(response.body) : undefined };
    };
    return { deps, call, lines, usage, ledger };
  };

  it("lists the tenant's models in OpenAI's shape, logging the tenant id", async () => {
    const { call, deps, lines } = await account();
    const { tenantId } = await seedSampleTenant(deps.store);

    const response = await call(loadEvent('account-api', 'list-models'));

    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({
      object: 'list',
      data: settings.allowedModels.map((id) => ({ id, object: 'model', created: 0, owned_by: 'system' })),
    });
    expect(lines.find((line) => line.message === 'request')).toMatchObject({
      tenant_id: tenantId,
      status: 200,
    });
  });

  it('reports every quota with its limit, the counters the port returns, and a reset time', async () => {
    const { call, deps, usage } = await account();
    const { tenantId } = await seedSampleTenant(deps.store);

    const response = await call(loadEvent('account-api', 'get-usage'));

    expect(response.statusCode).toBe(200);
    expect(usage.readCounters).toHaveBeenCalledWith(tenantId, expect.any(Date));
    expect(response.json.tokens_per_month).toEqual({
      limit: PLANS.free.tokens_per_month,
      used: 42,
      reserved: 0,
      resets_at: Math.floor(Date.UTC(2026, 11, 1) / 1000),
    });
    expect(response.json.storage_bytes.resets_at).toBeNull();
    expect(Object.keys(response.json).sort()).toEqual(Object.keys(PLANS.free).sort());
  });

  it('counts each request: x-ratelimit headers on success, then 429 in the envelope with Retry-After', async () => {
    const { call, deps, ledger } = await account();
    const { tenantId } = await seedSampleTenant(deps.store);
    await deps.store.updateTenant(tenantId, { quota_overrides: { requests_per_minute: 2 }, updated_at: 1 });

    const first = await call(loadEvent('account-api', 'list-models'));
    const second = await call(loadEvent('account-api', 'get-usage'));
    const third = await call(loadEvent('account-api', 'list-models'));

    expect(first.statusCode).toBe(200);
    expect(first.headers).toMatchObject({
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '1',
      'x-ratelimit-reset-requests': '1m0s',
    });
    expect(second.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(third.statusCode).toBe(429);
    expectEnvelope(third.json, { type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(third.headers).toMatchObject({ 'Retry-After': '60', 'x-ratelimit-remaining-requests': '0' });
    expect(third.headers['X-Content-Type-Options']).toBe('nosniff');
    expect(ledger.calls).toEqual(['count', 'count', 'count']);
  });

  it('an unlimited tenant is not counted and gets no rate-limit headers', async () => {
    const { call, deps, ledger } = await account();
    const { tenantId } = await seedSampleTenant(deps.store);
    await deps.store.updateTenant(tenantId, {
      quota_overrides: { requests_per_minute: null },
      updated_at: 1,
    });

    const response = await call(loadEvent('account-api', 'list-models'));

    expect(response.statusCode).toBe(200);
    expect(response.headers).not.toHaveProperty('x-ratelimit-limit-requests');
    expect(ledger.calls).toEqual([]);
  });

  it('refused keys and suspended tenants are not counted', async () => {
    const { call, deps, ledger } = await account();
    await seedSampleTenant(deps.store, 'suspended');

    expect((await call(loadEvent('account-api', 'list-models'))).statusCode).toBe(403);
    expect((await call(loadEvent('account-api', 'revoked-key'))).statusCode).toBe(401);
    expect(ledger.calls).toEqual([]);
  });

  it('a function that serves tenant routes without a ledger is a bug: 500, never an unmetered 200', async () => {
    const deps = tenantDeps();
    await seedSampleTenant(deps.store);
    const { httpHandler } = await import('../../../functions/middleware/http-handler');
    const api = httpHandler(
      { listModels: ({ tenant }) => ({ object: 'list' as const, data: [], tenant_id: tenant.id }) as never },
      { service: 'misconfigured', store: deps.store, logger: memoryLogger().logger },
    );

    const response = (await api(loadEvent('account-api', 'list-models'), lambdaContext())) as Response;

    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toMatchObject({ error: { type: 'api_error' } });
  });

  it('a key revoked after the authorizer cached it → 401', async () => {
    const { call, deps } = await account();
    const { keyId } = await seedSampleTenant(deps.store);
    await deps.store.revokeApiKey(deps.store.keys.get(keyId)!.tenant_id, keyId, 1);

    const response = await call(loadEvent('account-api', 'list-models'));

    expect(response.statusCode).toBe(401);
    expectEnvelope(response.json, { code: 'invalid_api_key' });
    expect(response.json.error.message).toMatch(/revoked/);
  });

  it('a suspended tenant → 403 tenant_suspended', async () => {
    const { call, deps } = await account();
    await seedSampleTenant(deps.store, 'suspended');

    const response = await call(loadEvent('account-api', 'list-models'));

    expect(response.statusCode).toBe(403);
    expectEnvelope(response.json, { code: 'tenant_suspended' });
  });

  it('the authorizer saw a revoked key → 401', async () => {
    const { call } = await account();
    const response = await call(loadEvent('account-api', 'revoked-key'));
    expect(response.statusCode).toBe(401);
    expectEnvelope(response.json, { code: 'invalid_api_key' });
  });

  it('the admin key on a tenant route → 403', async () => {
    const { call } = await account();
    const event = loadEvent('account-api', 'list-models');
    event.requestContext.authorizer.lambda = { principal: 'admin' };
    const response = await call(event);
    expect(response.statusCode).toBe(403);
    expectEnvelope(response.json, { code: 'tenant_key_required' });
  });

  it("a key whose tenant id does not match the authorizer's context → 401", async () => {
    const { call, deps } = await account();
    await seedSampleTenant(deps.store);
    const event = loadEvent('account-api', 'list-models');
    event.requestContext.authorizer.lambda.tenantId = newId('ten', 0);
    const response = await call(event);
    expect(response.statusCode).toBe(401);
  });
});
