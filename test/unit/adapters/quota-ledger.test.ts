// Unit: the exact UpdateItem each ledger operation sends (bounds computed here, every name and value a
// placeholder), and how DynamoDB's answers become domain results and errors.
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoQuotaLedger } from '../../../functions/adapters/dynamodb/quota-ledger';
import { UpstreamError } from '../../../functions/core/errors';
import type { Hold } from '../../../functions/core/ports/quota-ledger';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';
import { TABLES } from '../../../functions/platform/tables';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(client);
const ledger = new DynamoQuotaLedger(client, 'quotas');
const nowSeconds = Math.floor(Date.UTC(2026, 10, 21, 10, 15, 30) / 1000);
const monthEnd = Math.floor(Date.UTC(2026, 11, 1) / 1000);
const tokens = {
  tenantId: 'ten_1',
  quota: 'tokens_per_month',
  window: '2026-11',
  resetsAt: monthEnd,
} as const;
const key = { pk: 'TENANT#ten_1', sk: 'QUOTA#tokens_per_month#2026-11' };

const conditionFailed = (item?: Record<string, unknown>) =>
  Object.assign(
    new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
    {
      ...(item && { Item: item }),
    },
  );

const lastUpdate = () => ddb.commandCalls(UpdateCommand).at(-1)!.args[0].input;

/** Every `#name` and `:value` an expression uses is defined, and nothing else appears in it. */
const expectOnlyPlaceholders = (input: ReturnType<typeof lastUpdate>, forbidden: string[]) => {
  const expressions = `${input.UpdateExpression} ${input.ConditionExpression ?? ''}`;
  for (const name of expressions.match(/#\w+/g) ?? [])
    expect(input.ExpressionAttributeNames).toHaveProperty(name);
  for (const value of expressions.match(/:\w+/g) ?? [])
    expect(input.ExpressionAttributeValues).toHaveProperty(value);
  for (const text of forbidden) expect(expressions).not.toContain(text);
};

beforeEach(() => ddb.reset());

describe('DynamoQuotaLedger.count', () => {
  it('adds one under a bound computed in the caller (limit - 1) and reports what remains', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { used: 7 } });

    const standing = await ledger.count({
      tenantId: 'ten_1',
      quota: 'requests_per_minute',
      window: '2026-11-21T10:15',
      resetsAt: nowSeconds + 30,
      limit: 60,
      nowSeconds,
    });

    const input = lastUpdate();
    expect(input).toMatchObject({
      TableName: 'quotas',
      Key: { pk: 'TENANT#ten_1', sk: 'QUOTA#requests_per_minute#2026-11-21T10:15' },
      UpdateExpression: 'ADD #used :one SET #ttl = :ttl',
      ConditionExpression: 'attribute_not_exists(#used) OR #used <= :usedBefore',
      ExpressionAttributeNames: { '#used': 'used', '#ttl': TABLES.quotas.ttlAttribute },
      ReturnValues: 'UPDATED_NEW',
    });
    expect(input.ExpressionAttributeValues).toMatchObject({ ':one': 1, ':usedBefore': 59 });
    expect(input.ExpressionAttributeValues?.[':ttl']).toBeGreaterThan(nowSeconds + 30);
    expectOnlyPlaceholders(input, ['ten_1', '60', '59']);
    expect(standing).toEqual({ limit: 60, remaining: 53, resetsAt: nowSeconds + 30 });
  });

  it('a failed condition is a QuotaExceededError with Retry-After and the request headers', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed({ used: { N: '60' } }));

    const error = await ledger
      .count({
        tenantId: 'ten_1',
        quota: 'requests_per_minute',
        window: '2026-11-21T10:15',
        resetsAt: nowSeconds + 30,
        limit: 60,
        nowSeconds,
      })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ statusCode: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect((error as QuotaExceededError).headers).toEqual({
      'Retry-After': '30',
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '30s',
    });
  });

  it('throttling is a retryable 503, not a quota refusal', async () => {
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(
      ledger.count({
        tenantId: 'ten_1',
        quota: 'requests_per_minute',
        window: 'w',
        resetsAt: 1,
        limit: 5,
        nowSeconds,
      }),
    ).rejects.toBeInstanceOf(UpstreamError);
  });
});

describe('DynamoQuotaLedger.hold', () => {
  const request = {
    ...tokens,
    holdId: 'res_abc',
    amount: 1_500,
    limit: 100_000,
    nowSeconds,
    leaseSeconds: 900,
  };

  it('holds in one write: committed must be at most limit - amount, computed in the caller', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { committed: 41_500, reserved: 1_500, used: 40_000 } });

    const { hold, standing } = await ledger.hold(request);

    const input = lastUpdate();
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(input).toMatchObject({
      Key: key,
      UpdateExpression:
        'SET #hold = :hold, #ttl = :ttl ADD #reserved :amount, #committed :amount, #used :zero',
      ConditionExpression:
        'attribute_not_exists(#hold) AND (attribute_not_exists(#committed) OR #committed <= :committedBefore)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(input.ExpressionAttributeNames).toMatchObject({
      '#hold': 'hold_res_abc',
      '#committed': 'committed',
    });
    expect(input.ExpressionAttributeValues).toMatchObject({
      ':hold': { amount: 1_500, expires_at: nowSeconds + 900 },
      ':amount': 1_500,
      ':committedBefore': 98_500,
    });
    expect(input.ExpressionAttributeValues?.[':ttl']).toBeGreaterThan(monthEnd);
    expectOnlyPlaceholders(input, ['res_abc', '98500', '1500']);
    expect(hold).toEqual({ ...tokens, holdId: 'res_abc', amount: 1_500, expiresAt: nowSeconds + 900 });
    expect(standing).toEqual({ limit: 100_000, remaining: 58_500, resetsAt: monthEnd });
  });

  it('refused with no expired holds: QuotaExceededError with the tokens headers and no further write', async () => {
    ddb.on(UpdateCommand).rejects(
      conditionFailed({
        committed: { N: '99000' },
        reserved: { N: '500' },
        hold_res_live: { M: { amount: { N: '500' }, expires_at: { N: String(nowSeconds + 10) } } },
      }),
    );

    const error = (await ledger.hold(request).catch((caught: unknown) => caught)) as QuotaExceededError;

    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error.code).toBe('token_quota_exceeded');
    expect(error.headers).toMatchObject({
      'Retry-After': String(monthEnd - nowSeconds),
      'x-ratelimit-limit-tokens': '100000',
      'x-ratelimit-remaining-tokens': '1000',
      'x-should-retry': 'false',
    });
  });

  it('refused with an expired hold: reclaims it (conditioned on it being unchanged) and retries once', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(
        conditionFailed({
          committed: { N: '99000' },
          reserved: { N: '3000' },
          hold_res_dead: { M: { amount: { N: '3000' }, expires_at: { N: String(nowSeconds - 1) } } },
        }),
      )
      .resolvesOnce({})
      .resolves({ Attributes: { committed: 97_500 } });

    const { hold } = await ledger.hold(request);

    const calls = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(calls).toHaveLength(3);
    expect(calls[1]).toMatchObject({
      Key: key,
      UpdateExpression: 'REMOVE #h0 ADD #reserved :minusTotal, #committed :minusTotal',
      ConditionExpression: '#h0.#exp = :e0',
      ExpressionAttributeNames: { '#h0': 'hold_res_dead', '#exp': 'expires_at' },
      ExpressionAttributeValues: { ':minusTotal': -3_000, ':e0': nowSeconds - 1 },
    });
    expect(calls[2]?.UpdateExpression).toBe(calls[0]?.UpdateExpression);
    expect(hold.amount).toBe(1_500);
  });

  it('the same hold id again returns the existing hold without a second write', async () => {
    ddb.on(UpdateCommand).rejects(
      conditionFailed({
        committed: { N: '1500' },
        hold_res_abc: { M: { amount: { N: '1500' }, expires_at: { N: String(nowSeconds + 800) } } },
      }),
    );

    const { hold } = await ledger.hold(request);

    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(hold).toMatchObject({ holdId: 'res_abc', amount: 1_500, expiresAt: nowSeconds + 800 });
  });
});

describe('DynamoQuotaLedger.settle and release', () => {
  const hold: Hold = { ...tokens, holdId: 'res_abc', amount: 1_500, expiresAt: nowSeconds + 900 };

  it('settles in one write: used += usage, reserved -= hold, committed += usage - hold', async () => {
    ddb.on(UpdateCommand).resolves({});

    const result = await ledger.settle(hold, 420);

    const input = lastUpdate();
    expect(input).toMatchObject({
      Key: key,
      UpdateExpression: 'REMOVE #hold ADD #used :charged, #reserved :minusAmount, #committed :delta',
      ConditionExpression: '#hold.#amount = :amount',
      ExpressionAttributeNames: { '#hold': 'hold_res_abc', '#amount': 'amount' },
      ExpressionAttributeValues: {
        ':charged': 420,
        ':minusAmount': -1_500,
        ':delta': -1_080,
        ':amount': 1_500,
      },
    });
    expectOnlyPlaceholders(input, ['res_abc', '420', '1500']);
    expect(result).toEqual({ status: 'settled', charged: 420, overrun: 0 });
  });

  it('usage beyond the hold is charged up to the hold and the rest recorded as overrun', async () => {
    ddb.on(UpdateCommand).resolves({});

    const result = await ledger.settle(hold, 1_800);

    expect(lastUpdate()).toMatchObject({
      UpdateExpression:
        'REMOVE #hold ADD #used :charged, #reserved :minusAmount, #committed :delta, #overrun :overrun',
      ExpressionAttributeValues: { ':charged': 1_500, ':delta': 0, ':overrun': 300 },
    });
    expect(result).toEqual({ status: 'settled', charged: 1_500, overrun: 300 });
  });

  it('a settle or release of a hold that is gone changes nothing and says so', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed({ used: { N: '420' } }));

    expect(await ledger.settle(hold, 420)).toEqual({ status: 'not_held' });
    expect(await ledger.release(hold)).toEqual({ status: 'not_held' });
  });

  it('releases in one write: reserved and committed drop by the hold', async () => {
    ddb.on(UpdateCommand).resolves({});

    expect(await ledger.release(hold)).toEqual({ status: 'released' });
    expect(lastUpdate()).toMatchObject({
      UpdateExpression: 'REMOVE #hold ADD #reserved :minusAmount, #committed :minusAmount',
      ConditionExpression: '#hold.#amount = :amount',
      ExpressionAttributeValues: { ':minusAmount': -1_500, ':amount': 1_500 },
    });
  });
});
