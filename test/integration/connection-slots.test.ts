// Integration: connection slots in the DynamoDB quota ledger on DynamoDB Local: the 2 h 5 min lease,
// the item's TTL covering it, and the reclaim of a slot whose $disconnect was lost.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoQuotaLedger } from '../../functions/adapters/dynamodb/quota-ledger';
import {
  acquireConnectionSlot,
  releaseConnectionSlot,
} from '../../functions/core/quotas/acquire-connection-slot';
import { QuotaExceededError } from '../../functions/core/quotas/errors';
import { TABLES } from '../../functions/platform/tables';
import { type DynamoDbLocal, startDynamoDbLocal, uniqueTableName } from '../helpers/dynamodb-local';
import { manualClock } from '../helpers/tenant-fakes';

let local: DynamoDbLocal;
let tableName: string;
let ledger: DynamoQuotaLedger;

beforeAll(async () => {
  local = await startDynamoDbLocal();
  tableName = uniqueTableName('quotas-conn');
  await local.createTable(TABLES.quotas, tableName);
  ledger = new DynamoQuotaLedger(local.documentClient, tableName);
});

afterAll(async () => {
  await local?.stop();
});

describe('connection slots on DynamoDB Local', () => {
  it('holds a slot past 2 hours, keeps the item alive that long, and reclaims it after the lease', async () => {
    const clock = manualClock();
    const tenantId = `ten_slots_${Date.now().toString(36)}`;
    const slot = await acquireConnectionSlot(
      { ledger, clock },
      { tenantId, connectionId: 'lost=', limit: 1 },
    );
    if (slot.unlimited) throw new Error('expected a held slot');
    const item = await local.documentClient.send(
      new GetCommand({
        TableName: tableName,
        Key: { pk: `TENANT#${tenantId}`, sk: 'QUOTA#concurrent_connections' },
      }),
    );
    expect(item.Item?.[TABLES.quotas.ttlAttribute]).toBeGreaterThan(slot.expiresAt);
    expect(slot.expiresAt - Math.floor(clock.now().getTime() / 1000)).toBeGreaterThan(2 * 60 * 60);

    clock.advance(2 * 60 * 60 * 1000);
    await expect(
      acquireConnectionSlot({ ledger, clock }, { tenantId, connectionId: 'second', limit: 1 }),
    ).rejects.toBeInstanceOf(QuotaExceededError);

    clock.advance(6 * 60 * 1000);
    const after = await acquireConnectionSlot(
      { ledger, clock },
      { tenantId, connectionId: 'second', limit: 1 },
    );
    expect(after.unlimited).toBe(false);
    // The lost connection's late $disconnect finds nothing to free: the slot now belongs to 'second'.
    expect(await releaseConnectionSlot({ ledger }, { tenantId, connectionId: 'lost=' })).toEqual({
      status: 'not_held',
    });
    await expect(
      acquireConnectionSlot({ ledger, clock }, { tenantId, connectionId: 'third', limit: 1 }),
    ).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('of 8 concurrent acquisitions with a limit of 3, exactly 3 succeed', async () => {
    const clock = manualClock();
    const tenantId = `ten_race_${Date.now().toString(36)}`;

    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) =>
        acquireConnectionSlot({ ledger, clock }, { tenantId, connectionId: `c${index}`, limit: 3 }),
      ),
    );

    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((result) => result.status === 'rejected');
    for (const result of refused) expect(result.reason).toBeInstanceOf(QuotaExceededError);
  });
});
