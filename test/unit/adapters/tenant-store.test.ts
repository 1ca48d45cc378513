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
import { UpstreamError } from '../../../functions/core/errors';
import { newId } from '../../../functions/core/ids';
import { encodeCursor, InvalidCursorError } from '../../../functions/core/pagination';
import {
  ApiKeyNotFoundError,
  TenantConflictError,
  TenantNotFoundError,
} from '../../../functions/core/tenants/errors';
import type { ApiKeyRecord } from '../../../functions/core/tenants/schemas';

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
      .resolves({ Items: ids.map((id) => ({ id, name: id, plan: 'free', status: 'active' })) });

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
        Responses: { [TABLE]: [{ sk: 'TENANT', id: tenantId, status: 'active', plan: 'free', name: 'A' }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: `TENANT#${tenantId}`, sk: `KEY#${key.id}` }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [{ sk: `KEY#${key.id}`, ...key, revoked_at: undefined }] } });

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
