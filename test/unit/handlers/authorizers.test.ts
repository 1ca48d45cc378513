import { describe, expect, it, vi } from 'vitest';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createHttpAuthorizer } = await import('../../../functions/handlers/authorizer-http');
const { createWsAuthorizer } = await import('../../../functions/handlers/authorizer-ws');
const { generateApiKey } = await import('../../../functions/core/tenants/api-key-format');
const { createAccountApi } = await import('../../../functions/handlers/account-api');
const { InMemoryQuotaLedger } = await import('../../helpers/quota-fakes');
const {
  ADMIN_KEY,
  InMemoryTenantStore,
  lambdaContext,
  loadEvent,
  manualClock,
  memoryLogger,
  seedSampleTenant,
  settings,
} = await import('../../helpers/tenant-fakes');

const adminVerifier = { isAdminKey: async (candidate: string) => candidate === ADMIN_KEY };

const httpSetup = async (status: 'active' | 'suspended' = 'active') => {
  const store = new InMemoryTenantStore();
  const sample = await seedSampleTenant(store, status);
  const { logger, lines } = memoryLogger();
  const authorize = createHttpAuthorizer({ store, admin: adminVerifier, stage: 'dev', logger });
  const withHeader = (authorization: string | undefined) => {
    const event = loadEvent('authorizer-http', 'tenant-key');
    if (authorization === undefined) delete event.headers.authorization;
    else event.headers.authorization = authorization;
    return authorize(event);
  };
  return { store, sample, authorize, withHeader, lines };
};

describe('HTTP authorizer: always authorizes, names the principal in flat strings', () => {
  it('a tenant key → tenant, tenantId, keyId', async () => {
    const { authorize, sample } = await httpSetup();

    const result = await authorize(loadEvent('authorizer-http', 'tenant-key'));

    expect(result).toEqual({
      isAuthorized: true,
      context: { principal: 'tenant', tenantId: sample.tenantId, keyId: sample.keyId },
    });
  });

  it('the admin key → admin', async () => {
    const { authorize } = await httpSetup();
    expect(await authorize(loadEvent('authorizer-http', 'admin-key'))).toEqual({
      isAuthorized: true,
      context: { principal: 'admin' },
    });
  });

  it.each([
    ['no header', undefined, 'missing_api_key'],
    ['a non-Bearer header', 'Basic dXNlcjpwYXNz', 'malformed_api_key'],
    ['a malformed key', 'Bearer tk_dev_not-a-real-key', 'malformed_api_key'],
    ['a key of another stage', `Bearer ${generateApiKey('prod')}`, 'malformed_api_key'],
    ['a well-formed key nobody issued', `Bearer ${generateApiKey('dev')}`, 'unknown_api_key'],
    ['a wrong admin key', `Bearer ${ADMIN_KEY}x`, 'malformed_api_key'],
  ])('%s → anonymous with authError', async (_case, header, authError) => {
    const { withHeader } = await httpSetup();
    const result = await withHeader(header);
    expect(result).toEqual({ isAuthorized: true, context: { principal: 'anonymous', authError } });
  });

  it('a revoked key and a suspended tenant → still their tenant principal; the middleware refuses them', async () => {
    // Cached by API Gateway: naming the tenant lets re-activation work at once, because the authenticate
    // middleware re-checks standing per request (test/unit/middleware/http-pipeline.test.ts).
    const { authorize, store, sample } = await httpSetup();
    await store.revokeApiKey(sample.tenantId, sample.keyId, 1);
    expect((await authorize(loadEvent('authorizer-http', 'tenant-key'))).context).toEqual({
      principal: 'tenant',
      tenantId: sample.tenantId,
      keyId: sample.keyId,
    });

    const suspended = await httpSetup('suspended');
    expect((await suspended.authorize(loadEvent('authorizer-http', 'tenant-key'))).context).toEqual({
      principal: 'tenant',
      tenantId: suspended.sample.tenantId,
      keyId: suspended.sample.keyId,
    });
  });

  it('with the middleware: a cached answer for a suspended tenant works at once after re-activation', async () => {
    const { authorize, store, sample } = await httpSetup('suspended');
    const api = createAccountApi(
      {
        store,
        usage: { readCounters: async () => ({}) as never },
        ledger: new InMemoryQuotaLedger(),
        clock: manualClock(),
        settings,
      },
      { logger: memoryLogger().logger },
    );
    // What API Gateway caches for this Authorization header, and hands to every request for the TTL.
    const cached = await authorize(loadEvent('authorizer-http', 'tenant-key'));
    const request = () => {
      const event = loadEvent('account-api', 'list-models');
      event.requestContext.authorizer = { lambda: cached.context };
      return api(event, lambdaContext()) as Promise<{ statusCode: number }>;
    };

    const whileSuspended = await request();
    await store.updateTenant(sample.tenantId, { status: 'active', updated_at: 2 });
    const afterReactivation = await request();

    expect(whileSuspended.statusCode).toBe(403);
    expect(afterReactivation.statusCode).toBe(200);
  });

  it('throws on a transient failure (API Gateway: 500, not cached) instead of caching a refusal', async () => {
    const { authorize, store, lines } = await httpSetup();
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
      name: 'ProvisionedThroughputExceededException',
    });
    store.findApiKeyByHash = async () => {
      throw throttled;
    };

    await expect(authorize(loadEvent('authorizer-http', 'tenant-key'))).rejects.toBe(throttled);
    expect(lines.some((line) => line.level === 'error')).toBe(true);
  });

  it('throws when the admin key cannot be read, rather than calling the admin anonymous', async () => {
    const store = new InMemoryTenantStore();
    const authorize = createHttpAuthorizer({
      store,
      stage: 'dev',
      logger: memoryLogger().logger,
      admin: {
        isAdminKey: async () => {
          throw new Error('Secrets Manager unreachable');
        },
      },
    });

    await expect(authorize(loadEvent('authorizer-http', 'admin-key'))).rejects.toThrow('Secrets Manager');
  });

  it('never logs the key', async () => {
    const { authorize, lines, sample } = await httpSetup();
    await authorize(loadEvent('authorizer-http', 'tenant-key'));
    expect(JSON.stringify(lines)).not.toContain(sample.key);
    expect(lines.some((line) => line.tenantId === sample.tenantId)).toBe(true);
  });
});

describe('WebSocket $connect authorizer: IAM policies', () => {
  const wsSetup = async (
    redeemTicket?: (ticket: string) => Promise<{ tenantId: string; keyId: string } | undefined>,
  ) => {
    const store = new InMemoryTenantStore();
    const sample = await seedSampleTenant(store);
    const { logger } = memoryLogger();
    return {
      store,
      sample,
      authorize: createWsAuthorizer({ store, stage: 'dev', logger, ...(redeemTicket && { redeemTicket }) }),
    };
  };

  it('a valid key → Allow execute-api:Invoke on the method ARN, principalId = tenant id', async () => {
    const { authorize, sample } = await wsSetup();
    const event = loadEvent('authorizer-ws', 'tenant-key');

    const result = await authorize(event);

    expect(result).toEqual({
      principalId: sample.tenantId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
      },
      context: { principal: 'tenant', tenantId: sample.tenantId, keyId: sample.keyId },
    });
  });

  const denyOf = (result: { policyDocument: { Statement: unknown[] } }) => result.policyDocument.Statement[0];

  it.each([
    ['no credentials', undefined],
    ['a non-Bearer header', 'Token abc'],
    ['a malformed key', 'Bearer tk_dev_not-a-real-key'],
    ['a well-formed key nobody issued', `Bearer ${generateApiKey('dev')}`],
  ])('%s → throws Unauthorized (API Gateway answers 401)', async (_case, header) => {
    const { authorize } = await wsSetup();
    const event = loadEvent('authorizer-ws', 'tenant-key');
    if (header === undefined) delete event.headers.Authorization;
    else event.headers.Authorization = header;

    await expect(authorize(event)).rejects.toThrow(/^Unauthorized$/);
  });

  it('a revoked key → throws Unauthorized (401), not Deny', async () => {
    const { authorize, store, sample } = await wsSetup();
    await store.revokeApiKey(sample.tenantId, sample.keyId, 1);

    await expect(authorize(loadEvent('authorizer-ws', 'tenant-key'))).rejects.toThrow(/^Unauthorized$/);
  });

  it('a genuine key of a suspended tenant → Deny (403)', async () => {
    const { authorize, store, sample } = await wsSetup();
    await store.updateTenant(sample.tenantId, { status: 'suspended', updated_at: 2 });

    const result = await authorize(loadEvent('authorizer-ws', 'tenant-key'));

    expect(denyOf(result)).toMatchObject({ Effect: 'Deny' });
    expect(result.context).toEqual({ principal: 'anonymous', authError: 'tenant_suspended' });
  });

  it('a ticket is Unauthorized until a redeemer is wired, and allowed through one', async () => {
    const without = await wsSetup();
    await expect(without.authorize(loadEvent('authorizer-ws', 'ticket'))).rejects.toThrow(/^Unauthorized$/);

    const redeem = vi.fn(async () => ({ tenantId: without.sample.tenantId, keyId: without.sample.keyId }));
    const withRedeemer = await wsSetup(redeem);
    const allowed = await withRedeemer.authorize(loadEvent('authorizer-ws', 'ticket'));
    expect(redeem).toHaveBeenCalledWith(loadEvent('authorizer-ws', 'ticket').queryStringParameters.ticket);
    expect(allowed.principalId).toBe(without.sample.tenantId);
  });

  it("a ticket re-checks its key's standing: revoked → 401, suspended → Deny", async () => {
    const setup = await wsSetup(async () => ({ tenantId: setup.sample.tenantId, keyId: setup.sample.keyId }));
    await setup.store.updateTenant(setup.sample.tenantId, { status: 'suspended', updated_at: 2 });
    expect(denyOf(await setup.authorize(loadEvent('authorizer-ws', 'ticket')))).toMatchObject({
      Effect: 'Deny',
    });

    await setup.store.revokeApiKey(setup.sample.tenantId, setup.sample.keyId, 1);
    await expect(setup.authorize(loadEvent('authorizer-ws', 'ticket'))).rejects.toThrow(/^Unauthorized$/);
  });
});
