// Integration: the DynamoDB ConnectionStore against DynamoDB Local, through the real adapter.
import { DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionStore } from '../../functions/adapters/dynamodb/connection-store';
import { closeConnection } from '../../functions/core/connections/close-connection';
import { openConnection } from '../../functions/core/connections/open-connection';
import { TABLES } from '../../functions/platform/tables';
import { type DynamoLocalWs, startDynamoLocalWs } from '../helpers/dynamodb-local-ws';

const TWO_HOURS = 7200;
let dynamo: DynamoLocalWs;
let tableName: string;
let now = Date.parse('2026-11-21T21:15:00.000Z');
let store: DynamoConnectionStore;
let tenantSeq = 0;
/** Each test gets its own tenant, so counts never see another test's connections. */
const newTenant = () => `ten_it_${++tenantSeq}_${Date.now().toString(36)}`;

beforeAll(async () => {
  dynamo = await startDynamoLocalWs();
  tableName = await dynamo.createConnectionsTable();
  store = new DynamoConnectionStore(dynamo.documentClient, tableName, { now: () => now });
});

afterAll(async () => {
  await dynamo?.stop();
});

const open = (connectionId: string, tenantId: string, connectedAt: number) =>
  openConnection({ connections: store }, { connectionId, tenantId, keyId: 'key_it', connectedAt });

describe('DynamoConnectionStore on DynamoDB Local', () => {
  it('stores the connection with a TTL attribute no later than 2 hours after connect', async () => {
    const tenantId = newTenant();
    const connectedAt = now - 1_000;

    const record = await open('conn-ttl', tenantId, connectedAt);

    const raw = await dynamo.documentClient.send(
      new GetCommand({ TableName: tableName, Key: { pk: 'CONN#conn-ttl', sk: 'CONN' } }),
    );
    const ttl = raw.Item?.[TABLES.connections.ttlAttribute] as number;
    expect(ttl).toBeGreaterThan(connectedAt / 1000);
    expect(ttl).toBeLessThanOrEqual(connectedAt / 1000 + TWO_HOURS);
    expect(await store.get('conn-ttl')).toEqual(record);
    const described = await dynamo.client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(described.TimeToLiveDescription?.AttributeName).toBe(TABLES.connections.ttlAttribute);
  });

  it("counts and lists only a tenant's own live connections, oldest first", async () => {
    const tenantA = newTenant();
    const tenantB = newTenant();
    await open('a-2', tenantA, now - 2_000);
    await open('a-1', tenantA, now - 3_000);
    await open('a-3', tenantA, now - 1_000);
    await open('b-1', tenantB, now - 1_000);
    await open('a-stale', tenantA, now - (TWO_HOURS + 60) * 1000);
    // Another kind of item in the tenant's index partition (a connect ticket) must not count.
    await dynamo.documentClient.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: 'TICKET#t1',
          sk: 'TICKET',
          gsi1pk: `TENANT#${tenantA}`,
          gsi1sk: 'TICKET#t1',
          ttl: 9_999_999_999,
        },
      }),
    );

    expect(await store.countByTenant(tenantA)).toBe(3);
    expect(await store.countByTenant(tenantB)).toBe(1);
    expect((await store.listByTenant(tenantA)).map((record) => record.connection_id)).toEqual([
      'a-1',
      'a-2',
      'a-3',
    ]);
    expect(await store.countByTenant(newTenant())).toBe(0);
  });

  it('deletes idempotently: the second delete and an unknown id are no-ops', async () => {
    const tenantId = newTenant();
    await open('conn-del', tenantId, now);

    const first = await closeConnection({ connections: store }, 'conn-del');
    const second = await closeConnection({ connections: store }, 'conn-del');
    const unknown = await closeConnection({ connections: store }, 'never-was');

    expect(first?.connection_id).toBe('conn-del');
    expect(second).toBeUndefined();
    expect(unknown).toBeUndefined();
    expect(await store.get('conn-del')).toBeUndefined();
    expect(await store.countByTenant(tenantId)).toBe(0);
  });

  it('stops counting a connection once its TTL has passed, before DynamoDB removes it', async () => {
    const tenantId = newTenant();
    await open('conn-lapse', tenantId, now);
    const before = await store.countByTenant(tenantId);

    now += (TWO_HOURS + 1) * 1000;

    expect(before).toBe(1);
    expect(await store.countByTenant(tenantId)).toBe(0);
    expect(await store.get('conn-lapse')).toBeUndefined();
  });
});
