import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoUsageReader } from '../../../functions/adapters/dynamodb/usage-reader';
import { CorruptRecordError } from '../../../functions/core/errors';
import { QUOTA_NAMES } from '../../../functions/core/quotas/schemas';

describe('DynamoUsageReader', () => {
  it("reads every quota's current-window counter in one BatchGet; missing counters are zero", async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
    const ddb = mockClient(client);
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        quotas: [{ pk: 'TENANT#ten_1', sk: 'QUOTA#tokens_per_month#2026-11', used: 1200, reserved: 300 }],
      },
    });

    const counters = await new DynamoUsageReader(client, 'quotas').readCounters(
      'ten_1',
      new Date('2026-11-21T10:15:00Z'),
    );

    const keys = ddb.commandCalls(BatchGetCommand)[0]!.args[0].input.RequestItems?.quotas?.Keys;
    // The minute's requests are counted on the month's token item: one key fewer than quotas.
    expect(keys).toHaveLength(QUOTA_NAMES.length - 1);
    expect(keys).toContainEqual({ pk: 'TENANT#ten_1', sk: 'QUOTA#tokens_per_month#2026-11' });
    expect(keys).toContainEqual({ pk: 'TENANT#ten_1', sk: 'QUOTA#storage_bytes' });
    expect(counters.tokens_per_month).toEqual({ used: 1200, reserved: 300 });
    expect(counters.requests_per_minute).toEqual({ used: 0, reserved: 0 });
  });

  it('reports the requests of the current minute only: a counter of an older minute is zero', async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
    const ddb = mockClient(client);
    const item = { pk: 'TENANT#ten_1', sk: 'QUOTA#tokens_per_month#2026-11', rpm_minute: '2026-11-21T10:15' };
    ddb.on(BatchGetCommand).resolves({ Responses: { quotas: [{ ...item, rpm_used: 12 }] } });
    const reader = new DynamoUsageReader(client, 'quotas');

    const during = await reader.readCounters('ten_1', new Date('2026-11-21T10:15:59Z'));
    const after = await reader.readCounters('ten_1', new Date('2026-11-21T10:16:00Z'));

    expect(during.requests_per_minute).toEqual({ used: 12, reserved: 0 });
    expect(after.requests_per_minute).toEqual({ used: 0, reserved: 0 });
  });

  it("reports only live reservations: an expired hold (a crashed caller's) is left out", async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
    const ddb = mockClient(client);
    const now = new Date('2026-11-21T10:15:00Z');
    const nowSeconds = Math.floor(now.getTime() / 1000);
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        quotas: [
          {
            pk: 'TENANT#ten_1',
            sk: 'QUOTA#tokens_per_month#2026-11',
            used: 100,
            reserved: 700,
            committed: 800,
            hold_res_live: { amount: 300, expires_at: nowSeconds + 1 },
            hold_res_dead: { amount: 400, expires_at: nowSeconds },
          },
        ],
      },
    });

    const counters = await new DynamoUsageReader(client, 'quotas').readCounters('ten_1', now);

    expect(counters.tokens_per_month).toEqual({ used: 100, reserved: 300 });
  });

  it.each([
    ['a counter of the wrong type', { used: '1200' }, 'used'],
    ['a malformed hold', { reserved: 300, hold_res_live: { amount: 300 } }, 'hold_res_live'],
    ['a request minute of the wrong type', { rpm_minute: 202611211015, rpm_used: 3 }, 'rpm_minute'],
  ])(
    'an item with %s is a CorruptRecordError naming the table, key and attribute',
    async (_case, bad, named) => {
      const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
      const ddb = mockClient(client);
      ddb.on(BatchGetCommand).resolves({
        Responses: { quotas: [{ pk: 'TENANT#ten_1', sk: 'QUOTA#tokens_per_month#2026-11', ...bad }] },
      });

      const error = await new DynamoUsageReader(client, 'quotas')
        .readCounters('ten_1', new Date('2026-11-21T10:15:00Z'))
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error).toMatchObject({ statusCode: 500, code: 'corrupt_record' });
      expect((error as Error).message).toContain('quotas item TENANT#ten_1/QUOTA#tokens_per_month#2026-11');
      expect((error as Error).message).toContain(named);
    },
  );
});
