import { describe, expect, it, vi } from 'vitest';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createHttpAuthorizer } = await import('../../../functions/handlers/authorizers/http-authorizer');
const { createWsAuthorizer } = await import('../../../functions/handlers/authorizers/ws-authorizer');
const { generateApiKey } = await import('../../../functions/core/tenants/api-key-format');
const { ADMIN_KEY, InMemoryTenantStore, loadEvent, memoryLogger, seedSampleTenant } = await import(
  '../../helpers/tenant-fakes'
);

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

  it('a revoked key and a suspended tenant → anonymous at once', async () => {
    const { authorize, store, sample } = await httpSetup();
    await store.revokeApiKey(sample.tenantId, sample.keyId, 1);
    expect((await authorize(loadEvent('authorizer-http', 'tenant-key'))).context).toEqual({
      principal: 'anonymous',
      authError: 'revoked_api_key',
    });

    const suspended = await httpSetup('suspended');
    expect((await suspended.authorize(loadEvent('authorizer-http', 'tenant-key'))).context).toEqual({
      principal: 'anonymous',
      authError: 'tenant_suspended',
    });
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

  it('no credentials → throws Unauthorized (API Gateway answers 401)', async () => {
    const { authorize } = await wsSetup();
    await expect(authorize(loadEvent('authorizer-ws', 'missing-header'))).rejects.toThrow('Unauthorized');
  });

  it('a revoked key or a garbage header → Deny', async () => {
    const { authorize, store, sample } = await wsSetup();
    const garbage = loadEvent('authorizer-ws', 'tenant-key');
    garbage.headers.Authorization = 'Token abc';
    await store.revokeApiKey(sample.tenantId, sample.keyId, 1);

    const revoked = await authorize(loadEvent('authorizer-ws', 'tenant-key'));
    const malformed = await authorize(garbage);

    expect(revoked.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(revoked.context).toEqual({ principal: 'anonymous', authError: 'revoked_api_key' });
    expect(malformed.context).toEqual({ principal: 'anonymous', authError: 'malformed_api_key' });
  });

  it('a ticket is denied until a redeemer is wired, and allowed through one', async () => {
    const without = await wsSetup();
    const denied = await without.authorize(loadEvent('authorizer-ws', 'ticket'));
    expect(denied.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });

    const redeem = vi.fn(async () => ({ tenantId: without.sample.tenantId, keyId: without.sample.keyId }));
    const withRedeemer = await wsSetup(redeem);
    const allowed = await withRedeemer.authorize(loadEvent('authorizer-ws', 'ticket'));
    expect(redeem).toHaveBeenCalledWith(loadEvent('authorizer-ws', 'ticket').queryStringParameters.ticket);
    expect(allowed.principalId).toBe(without.sample.tenantId);
  });
});
