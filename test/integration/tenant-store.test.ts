// Tenants and keys through the real DynamoDB adapter against AWS's DynamoDB Local, and through the
// handlers and authorizer on top of it.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoTenantStore } from '../../functions/adapters/dynamodb/tenant-store';
import { newId } from '../../functions/core/ids';
import { encodeCursor, InvalidCursorError } from '../../functions/core/pagination';
import { randomIds } from '../../functions/core/ports/id-generator';
import { authenticateApiKey } from '../../functions/core/tenants/authenticate-api-key';
import { createApiKey } from '../../functions/core/tenants/create-api-key';
import { createTenant } from '../../functions/core/tenants/create-tenant';
import { listApiKeys } from '../../functions/core/tenants/list-api-keys';
import { listTenants } from '../../functions/core/tenants/list-tenants';
import type { TenantDeps } from '../../functions/core/tenants/model';
import { revokeApiKey } from '../../functions/core/tenants/revoke-api-key';
import { updateTenant } from '../../functions/core/tenants/update-tenant';
import { TABLES } from '../../functions/platform/tables';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { InMemoryQuotaLedger } from '../helpers/quota-fakes';

await vi.hoisted(() => import('../helpers/test-env'));

const { createTenantsApi } = await import('../../functions/handlers/tenants-api');
const { createAccountApi } = await import('../../functions/handlers/account-api');
const { createHttpAuthorizer } = await import('../../functions/handlers/authorizer-http');
const { lambdaContext, loadEvent, manualClock, memoryLogger, settings } = await import(
  '../helpers/tenant-fakes'
);

let local: DynamoDbLocal;
let tableCount = 0;

beforeAll(async () => {
  local = await startDynamoDbLocal();
});

afterAll(async () => {
  await local?.stop();
});

/** A fresh table per test, so tests neither see nor wait for each other's items. */
const freshStore = async () => {
  tableCount += 1;
  const tableName = `tenants-it-${tableCount}-${Date.now()}`;
  await local.createTable(TABLES.tenants, tableName);
  const store = new DynamoTenantStore(local.documentClient, tableName);
  const clock = manualClock();
  const deps: TenantDeps = { store, clock, ids: randomIds(clock), settings };
  const scan = async () =>
    (await local.documentClient.send(new ScanCommand({ TableName: tableName, ConsistentRead: true })))
      .Items ?? [];
  return { store, deps, clock, scan };
};

describe('DynamoTenantStore on DynamoDB Local', () => {
  it('round-trips a tenant and applies a PATCH atomically', async () => {
    const { deps, store } = await freshStore();

    const created = await createTenant(deps, {
      name: 'Acme',
      models: ['gpt-4o'],
      quotas: { storage_bytes: null },
    });
    const updated = await updateTenant(deps, created.id, { plan: 'pro', status: 'suspended' });
    const stored = await store.getTenant(created.id);

    expect(updated).toMatchObject({ plan: 'pro', status: 'suspended', name: 'Acme', models: ['gpt-4o'] });
    expect(stored).toMatchObject({
      plan: 'pro',
      status: 'suspended',
      quota_overrides: { storage_bytes: null },
    });
    await expect(updateTenant(deps, newId('ten', 0), { name: 'x' })).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('a failed key creation leaves nothing behind', async () => {
    const { deps, store, scan } = await freshStore();
    const tenant = await createTenant(deps, { name: 'Acme' });
    const first = await createApiKey(deps, tenant.id);
    const firstRecord = (await store.getApiKeyWithTenant(tenant.id, first.id)).key!;
    const before = await scan();

    // Unknown tenant: the condition check fails, so neither the key nor its lookup is written.
    await expect(createApiKey(deps, newId('ten', 0))).rejects.toMatchObject({ statusCode: 404 });
    // Same hash, new id: the lookup's uniqueness fails, so the new key item is not written either.
    await expect(
      store.createApiKey({ ...firstRecord, id: newId('key', Date.now()), revoked_at: null }),
    ).rejects.toMatchObject({ statusCode: 409 });

    const after = await scan();
    expect(after).toHaveLength(before.length);
    expect(after.filter((item) => String(item.sk).startsWith('KEY#'))).toHaveLength(1);
    expect(after.filter((item) => String(item.pk).startsWith('KEYHASH#'))).toHaveLength(1);
    expect(JSON.stringify(after)).not.toContain(first.key);
  });

  it('revoking a key and suspending a tenant work at once', async () => {
    const { deps, store } = await freshStore();
    const tenant = await createTenant(deps, { name: 'Acme' });
    const keep = await createApiKey(deps, tenant.id);
    const revoke = await createApiKey(deps, tenant.id);
    const auth = { store, stage: 'dev' };

    expect(await authenticateApiKey(auth, revoke.key)).toMatchObject({ ok: true });
    await revokeApiKey(deps, tenant.id, revoke.id);
    expect(await authenticateApiKey(auth, revoke.key)).toMatchObject({
      ok: false,
      reason: 'revoked_api_key',
    });
    expect(await authenticateApiKey(auth, keep.key)).toMatchObject({ ok: true });

    await updateTenant(deps, tenant.id, { status: 'suspended' });
    expect(await authenticateApiKey(auth, keep.key)).toMatchObject({ ok: false, reason: 'tenant_suspended' });
  });

  it('pagination walks every tenant exactly once, oldest first', async () => {
    const { deps, clock } = await freshStore();
    const ids: string[] = [];
    for (let i = 0; i < 23; i += 1) {
      ids.push((await createTenant(deps, { name: `tenant ${i}` })).id);
      clock.advance(1000);
    }

    const seen: string[] = [];
    let pages = 0;
    let after: string | undefined;
    do {
      const page = await listTenants(deps, { limit: 5, ...(after && { after }) });
      pages += 1;
      seen.push(...page.data.map((tenant) => tenant.id));
      expect(page.has_more).toBe(page.next_cursor !== undefined);
      after = page.next_cursor;
    } while (after);

    expect(seen).toEqual(ids);
    expect(pages).toBe(5);
  });

  it('an exact multiple of the page size ends without an empty extra page', async () => {
    const { deps, clock } = await freshStore();
    for (let i = 0; i < 4; i += 1) {
      await createTenant(deps, { name: `t${i}` });
      clock.advance(1000);
    }

    const first = await listTenants(deps, { limit: 2 });
    const second = await listTenants(deps, { limit: 2, after: first.next_cursor });

    expect(first.has_more).toBe(true);
    expect(second.data).toHaveLength(2);
    expect(second.has_more).toBe(false);
  });

  it('a tampered cursor is a 400, never a 500', async () => {
    const { deps } = await freshStore();
    await createTenant(deps, { name: 'Acme' });
    const forged = [
      'not-a-cursor!',
      Buffer.from(JSON.stringify({ v: 1, id: 'KEYHASH#abc' })).toString('base64url'),
      encodeCursor(newId('key', 0)),
      encodeCursor(newId('ten', 0)).slice(0, -3),
    ];

    for (const after of forged) {
      const error = await listTenants(deps, { limit: 5, after }).catch((caught: unknown) => caught);
      expect(error, after).toBeInstanceOf(InvalidCursorError);
      expect((error as InvalidCursorError).statusCode).toBe(400);
    }
    // A well-formed id that names no tenant is simply a position in the list.
    const fromNowhere = await listTenants(deps, { limit: 5, after: encodeCursor(newId('ten', 0)) });
    expect(fromNowhere.data).toHaveLength(1);
  });

  it("pages a tenant's keys within that tenant only", async () => {
    const { deps } = await freshStore();
    const a = await createTenant(deps, { name: 'A' });
    const b = await createTenant(deps, { name: 'B' });
    const keysOfA = [];
    for (let i = 0; i < 3; i += 1) keysOfA.push((await createApiKey(deps, a.id)).id);
    await createApiKey(deps, b.id);

    const first = await listApiKeys(deps, a.id, { limit: 2 });
    const second = await listApiKeys(deps, a.id, { limit: 2, after: first.next_cursor });

    expect([...first.data, ...second.data].map((key) => key.id).sort()).toEqual(keysOfA.sort());
    expect(second.has_more).toBe(false);
  });
});

describe('handlers and authorizer on DynamoDB Local', () => {
  it('admin creates a tenant and a key; the key works until revoked, then 401 at once', async () => {
    const { deps, store } = await freshStore();
    const { logger } = memoryLogger();
    const tenants = createTenantsApi(deps, { logger });
    const account = createAccountApi(
      {
        store,
        usage: { readCounters: async () => ({}) as never },
        ledger: new InMemoryQuotaLedger(),
        clock: deps.clock,
        settings,
      },
      { logger },
    );
    const authorize = createHttpAuthorizer({
      store,
      stage: 'dev',
      admin: { isAdminKey: async () => false },
      logger,
    });
    const call = async (api: typeof tenants, event: Record<string, unknown>) => {
      const response = (await api(event as never, lambdaContext())) as { statusCode: number; body: string };
      return { statusCode: response.statusCode, json: response.body ? JSON.parse(response.body) : undefined };
    };

    const tenant = await call(tenants, loadEvent('tenants-api', 'create-tenant'));
    const keyEvent = loadEvent('tenants-api', 'create-api-key');
    keyEvent.pathParameters = { id: tenant.json.id };
    const key = await call(tenants, keyEvent);
    expect(key.statusCode).toBe(201);

    const authorizerEvent = loadEvent('authorizer-http', 'tenant-key');
    authorizerEvent.headers.authorization = `Bearer ${key.json.key}`;
    const { context } = await authorize(authorizerEvent);
    expect(context).toEqual({ principal: 'tenant', tenantId: tenant.json.id, keyId: key.json.id });

    const modelsEvent = loadEvent('account-api', 'list-models');
    modelsEvent.requestContext.authorizer.lambda = context;
    expect((await call(account, modelsEvent)).statusCode).toBe(200);

    const revokeEvent = loadEvent('tenants-api', 'revoke-api-key');
    revokeEvent.pathParameters = { id: tenant.json.id, keyId: key.json.id };
    expect((await call(tenants, revokeEvent)).statusCode).toBe(204);

    // The authorizer's earlier answer may still be cached by API Gateway: the handler re-checks.
    const afterRevoke = await call(account, modelsEvent);
    expect(afterRevoke.statusCode).toBe(401);
    expect(afterRevoke.json.error.code).toBe('invalid_api_key');
  });
});
