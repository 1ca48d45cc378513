// The DynamoDB adapter's call shapes (aws-sdk-client-mock): what it sends and how it maps failures.
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoTenantStore } from '../../../functions/adapters/dynamodb/tenant-store';
import { CorruptRecordError, UpstreamError } from '../../../functions/core/errors';
import { newId } from '../../../functions/core/ids';
import { encodeCursor, InvalidCursorError } from '../../../functions/core/pagination';
import {
  ApiKeyNotFoundError,
  TenantConflictError,
  TenantNotFoundError,
} from '../../../functions/core/tenants/errors';
import type { ApiKeyRecord, TenantRecord } from '../../../functions/core/tenants/schemas';

const TABLE = 'tenants-test';
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(client);
const store = new DynamoTenantStore(client, TABLE);

const tenantId = newId('ten', Date.UTC(2026, 0, 1));
const key: ApiKeyRecord = {
  id: newId('key', Date.UTC(2026, 0, 2)),
  tenant_id: tenantId,
  prefix: 'tk_dev_abcdef',
  key_hash: 'a'.repeat(64),
  created_at: 1_767_312_000,
  revoked_at: null,
};

const tenant: TenantRecord = {
  id: tenantId,
  name: 'Acme',
  plan: 'free',
  quota_overrides: { tokens_per_month: 50_000 },
  models: ['gpt-4o-mini'],
  default_model: 'gpt-4o-mini',
  tools: null,
  status: 'active',
  created_at: 1_767_225_600,
  updated_at: 1_767_225_600,
};
/** The tenant item as the store writes it: key attributes, index attributes and `entity` around the record. */
const tenantItem = {
  pk: `TENANT#${tenantId}`,
  sk: 'TENANT',
  gsi1pk: 'TENANTS',
  gsi1sk: tenantId,
  entity: 'tenant',
  ...tenant,
};
const keyItem = {
  pk: `TENANT#${tenantId}`,
  sk: `KEY#${key.id}`,
  entity: 'api_key',
  ...key,
  revoked_at: undefined,
};

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

beforeEach(() => ddb.reset());

describe('createApiKey', () => {
  it('writes the key and its hash lookup in one TransactWrite, guarded by the tenant and uniqueness', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    await store.createApiKey(key);

    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(1);
    const items = calls[0]!.args[0].input.TransactItems!;
    expect(items[0]?.ConditionCheck).toMatchObject({
      TableName: TABLE,
      Key: { pk: `TENANT#${tenantId}`, sk: 'TENANT' },
      ConditionExpression: 'attribute_exists(pk)',
    });
    expect(items[1]?.Put).toMatchObject({
      TableName: TABLE,
      Item: { pk: `TENANT#${tenantId}`, sk: `KEY#${key.id}`, key_hash: key.key_hash, prefix: key.prefix },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(items[1]?.Put?.Item).not.toHaveProperty('revoked_at');
    expect(items[2]?.Put).toMatchObject({
      Item: { pk: `KEYHASH#${key.key_hash}`, sk: 'KEYHASH', tenant_id: tenantId, key_id: key.id },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('maps a failed tenant check to 404 and a failed uniqueness check to 409', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled(['ConditionalCheckFailed', 'None', 'None']));
    await expect(store.createApiKey(key)).rejects.toBeInstanceOf(TenantNotFoundError);

    ddb.reset();
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled(['None', 'None', 'ConditionalCheckFailed']));
    await expect(store.createApiKey(key)).rejects.toBeInstanceOf(TenantConflictError);
  });

  it('turns throttling into a retryable 503, not a 500', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const error = await store.createApiKey(key).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ statusCode: 503, headers: { 'Retry-After': '1' } });
  });
});

describe('tenants', () => {
  it('creates with a condition so an id is never overwritten', async () => {
    ddb
      .on(PutCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'ConditionalCheckFailedException' }));
    await expect(
      store.createTenant({
        id: tenantId,
        name: 'A',
        plan: 'free',
        quota_overrides: {},
        models: null,
        tools: null,
        status: 'active',
        created_at: 1,
        updated_at: 1,
      }),
    ).rejects.toBeInstanceOf(TenantConflictError);
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: { gsi1pk: 'TENANTS', gsi1sk: tenantId },
    });
  });

  it('updates with placeholders only (no user input in the expression) and maps a missing tenant to 404', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('missing'), { name: 'ConditionalCheckFailedException' }));

    await expect(store.updateTenant(tenantId, { name: "x'; DROP", updated_at: 5 })).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );

    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.UpdateExpression).toBe('SET #f0 = :v0, #f1 = :v1');
    expect(input.UpdateExpression).not.toContain('DROP');
    expect(input.ExpressionAttributeValues).toEqual({ ':v0': "x'; DROP", ':v1': 5 });
    expect(input.ConditionExpression).toBe('attribute_exists(pk)');
  });

  it('pages on the GSI, reading one extra item so has_more is exact, and rebuilds the start key from the cursor', async () => {
    const ids = [1, 2, 3].map((n) => newId('ten', Date.UTC(2026, 0, n)));
    ddb
      .on(QueryCommand)
      .resolves({ Items: ids.map((id) => ({ ...tenantItem, pk: `TENANT#${id}`, gsi1sk: id, id })) });

    const page = await store.listTenants({ limit: 2, cursor: encodeCursor(tenantId) });

    const input = ddb.commandCalls(QueryCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ IndexName: 'gsi1', Limit: 3 });
    expect(input.ExclusiveStartKey).toEqual({
      pk: `TENANT#${tenantId}`,
      sk: 'TENANT',
      gsi1pk: 'TENANTS',
      gsi1sk: tenantId,
    });
    expect(page.items.map((item) => item.id)).toEqual(ids.slice(0, 2));
    expect(page.nextCursor).toBe(encodeCursor(ids[1]!));
  });

  it('refuses a tampered cursor before calling DynamoDB', async () => {
    await expect(
      store.listTenants({ limit: 2, cursor: 'eyJ2IjoxLCJpZCI6IktFWUhBU0gjeCJ9' }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });
});

describe('keys on the request path', () => {
  it('reads the key and its tenant in one consistent BatchGet, retrying unprocessed keys', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [tenantItem] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: `TENANT#${tenantId}`, sk: `KEY#${key.id}` }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [keyItem] } });

    const result = await store.getApiKeyWithTenant(tenantId, key.id);

    const calls = ddb.commandCalls(BatchGetCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input.RequestItems?.[TABLE]).toMatchObject({ ConsistentRead: true });
    expect(result.tenant?.id).toBe(tenantId);
    expect(result.key).toMatchObject({ id: key.id, revoked_at: null });
  });

  it('looks a hash up with a consistent read', async () => {
    ddb.on(GetCommand).resolves({ Item: { tenant_id: tenantId, key_id: key.id, key_hash: key.key_hash } });

    const entry = await store.findApiKeyByHash(key.key_hash);

    expect(entry).toEqual({ tenantId, keyId: key.id, keyHash: key.key_hash });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({
      Key: { pk: `KEYHASH#${key.key_hash}`, sk: 'KEYHASH' },
      ConsistentRead: true,
    });
  });

  it('revokes with if_not_exists so the first revocation time is kept; a missing key is 404', async () => {
    ddb.on(UpdateCommand).resolvesOnce({ Attributes: { ...key, revoked_at: 9 } });
    expect((await store.revokeApiKey(tenantId, key.id, 10)).revoked_at).toBe(9);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toContain('if_not_exists');

    ddb.reset();
    ddb
      .on(UpdateCommand)
      .rejectsOnce(Object.assign(new Error('missing'), { name: 'ConditionalCheckFailedException' }));
    await expect(store.revokeApiKey(tenantId, key.id, 10)).rejects.toBeInstanceOf(ApiKeyNotFoundError);
  });
});

describe('stored items are parsed, not cast', () => {
  const corrupt = async (read: Promise<unknown>) => {
    const error = await read.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ statusCode: 500, code: 'corrupt_record', expose: false });
    return error as CorruptRecordError;
  };

  it('a tenant item round-trips to the record, without its key attributes', async () => {
    ddb.on(GetCommand).resolves({ Item: tenantItem });

    expect(await store.getTenant(tenantId)).toEqual(tenant);
  });

  it('a tenant item written before default_model, models, tools and overrides existed reads with their defaults', async () => {
    const { quota_overrides: _o, models: _m, default_model: _d, tools: _t, ...older } = tenantItem;
    ddb.on(GetCommand).resolves({ Item: older });

    expect(await store.getTenant(tenantId)).toEqual({
      ...tenant,
      quota_overrides: {},
      models: null,
      default_model: null,
      tools: null,
    });
  });

  it('a tenant item with a field of the wrong type is a CorruptRecordError naming the table, key and field', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...tenantItem, status: 'deleted', created_at: '2026-01-01' } });

    const error = await corrupt(store.getTenant(tenantId));

    expect(error.message).toContain(`${TABLE} item TENANT#${tenantId}/TENANT`);
    expect(error.message).toContain('status');
    expect(error.message).toContain('created_at');
  });

  it('a tenant item missing a field is refused, in a listing as in a get', async () => {
    const { name: _missing, ...nameless } = tenantItem;
    ddb.on(GetCommand).resolves({ Item: nameless });
    ddb.on(QueryCommand).resolves({ Items: [tenantItem, nameless] });

    expect((await corrupt(store.getTenant(tenantId))).message).toContain('name');
    await corrupt(store.listTenants({ limit: 5 }));
  });

  it('an updated tenant comes back parsed', async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { ...tenantItem, name: 'Renamed' } })
      .resolvesOnce({ Attributes: { ...tenantItem, quota_overrides: { tokens: 5 } } });

    expect(await store.updateTenant(tenantId, { name: 'Renamed', updated_at: 2 })).toEqual({
      ...tenant,
      name: 'Renamed',
    });
    await corrupt(store.updateTenant(tenantId, { updated_at: 3 }));
  });

  it('an API key item round-trips (revoked_at absent until revoked) and a malformed one is refused', async () => {
    ddb.on(QueryCommand).resolvesOnce({ Items: [keyItem] });
    expect((await store.listApiKeys(tenantId, { limit: 5 })).items).toEqual([key]);

    ddb
      .on(BatchGetCommand)
      .resolves({ Responses: { [TABLE]: [tenantItem, { ...keyItem, created_at: null }] } });
    const error = await corrupt(store.getApiKeyWithTenant(tenantId, key.id));
    expect(error.message).toContain(`KEY#${key.id}`);

    ddb.on(UpdateCommand).resolves({ Attributes: { ...keyItem, revoked_at: 'now' } });
    await corrupt(store.revokeApiKey(tenantId, key.id, 10));
  });

  it('a malformed hash lookup item is refused, and the error shows only a few characters of the hash', async () => {
    const hash = 'f'.repeat(64);
    ddb.on(GetCommand).resolves({
      Item: { pk: `KEYHASH#${hash}`, sk: 'KEYHASH', tenant_id: tenantId, key_id: 7, key_hash: hash },
    });

    const error = await corrupt(store.findApiKeyByHash(hash));

    expect(error.message).toContain('KEYHASH#ffffffff…');
    expect(error.message).toContain('key_id');
    expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.toContain(hash);
  });
});
