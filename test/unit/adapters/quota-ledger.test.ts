// Unit: the exact UpdateItem each ledger operation sends (bounds computed here, every name and value a
// placeholder), and how DynamoDB's answers become domain results and errors.
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoQuotaLedger } from '../../../functions/adapters/dynamodb/quota-ledger';
import { CorruptRecordError, UpstreamError } from '../../../functions/core/errors';
import type { Hold } from '../../../functions/core/ports/quota-ledger';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';

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
/** A request counted in the minute 10:15 (60 a minute), on the month's token item. */
const minute = {
  tenantId: 'ten_1',
  quota: 'requests_per_minute',
  window: '2026-11-21T10:15',
  resetsAt: nowSeconds + 30,
  limit: 60,
  nowSeconds,
} as const;

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
  it("counts a tenant's first request of a minute on the month's token item, restarting the counter", async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { rpm_used: 1 } });

    const standing = await new DynamoQuotaLedger(client, 'quotas').count(minute);

    const input = lastUpdate();
    expect(input).toMatchObject({
      TableName: 'quotas',
      Key: key,
      UpdateExpression: 'SET #ttl = :ttl, #rpmMinute = :rpmMinute, #rpmUsed = :rpmOne',
      ConditionExpression: '(attribute_not_exists(#rpmMinute) OR #rpmMinute < :rpmMinute)',
      ExpressionAttributeNames: { '#rpmMinute': 'rpm_minute', '#rpmUsed': 'rpm_used' },
      ReturnValues: 'UPDATED_NEW',
    });
    expect(input.ExpressionAttributeValues).toMatchObject({ ':rpmMinute': '2026-11-21T10:15', ':rpmOne': 1 });
    expect(input.ExpressionAttributeValues?.[':ttl']).toBeGreaterThan(monthEnd);
    expectOnlyPlaceholders(input, ['ten_1', '2026-11-21T10:15', '60']);
    expect(standing).toEqual({ limit: 60, remaining: 59, resetsAt: nowSeconds + 30 });
  });

  it('adds one under a bound computed in the caller (limit - 1) once the minute is known', async () => {
    const ledger = new DynamoQuotaLedger(client, 'quotas');
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { rpm_used: 1 } })
      .resolves({ Attributes: { rpm_used: 7 } });
    await ledger.count(minute);

    const standing = await ledger.count(minute);

    const input = lastUpdate();
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(2);
    expect(input).toMatchObject({
      Key: key,
      UpdateExpression: 'SET #ttl = :ttl ADD #rpmUsed :rpmOne',
      ConditionExpression: '(#rpmMinute = :rpmMinute AND #rpmUsed <= :rpmBefore)',
    });
    expect(input.ExpressionAttributeValues).toMatchObject({ ':rpmBefore': 59 });
    expectOnlyPlaceholders(input, ['ten_1', '60', '59']);
    expect(standing).toEqual({ limit: 60, remaining: 53, resetsAt: nowSeconds + 30 });
  });

  it('a guess of a fresh minute that another request already started is retried as an add', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed({ rpm_minute: { S: '2026-11-21T10:15' }, rpm_used: { N: '3' } }))
      .resolves({ Attributes: { rpm_used: 4 } });

    const standing = await new DynamoQuotaLedger(client, 'quotas').count(minute);

    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(2);
    expect(lastUpdate().UpdateExpression).toContain('ADD #rpmUsed :rpmOne');
    expect(standing.remaining).toBe(56);
  });

  it('a full minute is a QuotaExceededError with Retry-After and the request headers', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(conditionFailed({ rpm_minute: { S: '2026-11-21T10:15' }, rpm_used: { N: '60' } }));

    const error = await new DynamoQuotaLedger(client, 'quotas')
      .count(minute)
      .catch((caught: unknown) => caught);

    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
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

/** A token hold of 1,500 under `res_abc`, against a 100,000 limit. */
const holdRequest = {
  ...tokens,
  holdId: 'res_abc',
  amount: 1_500,
  limit: 100_000,
  nowSeconds,
  leaseSeconds: 900,
};

describe('DynamoQuotaLedger.hold', () => {
  const request = holdRequest;

  it('holds in one write: committed must be at most limit - amount, computed in the caller', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { committed: 41_500, reserved: 1_500, used: 40_000 } });

    const { hold, standing } = await ledger.hold(request);

    const input = lastUpdate();
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(input).toMatchObject({
      Key: key,
      UpdateExpression: 'SET #ttl = :ttl, #hold = :hold ADD #reserved :amount, #committed :amount',
      ConditionExpression:
        '(attribute_not_exists(#hold)) AND (attribute_not_exists(#committed) OR #committed <= :committedBefore)',
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

  it('with countRequest, counts the request and holds the tokens in the same write', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { committed: 41_500, rpm_used: 1 } });

    const result = await new DynamoQuotaLedger(client, 'quotas').hold({ ...request, countRequest: minute });

    const input = lastUpdate();
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(input.Key).toEqual(key);
    expect(input.UpdateExpression).toBe(
      'SET #ttl = :ttl, #hold = :hold, #rpmMinute = :rpmMinute, #rpmUsed = :rpmOne ADD #reserved :amount, #committed :amount',
    );
    expect(input.ConditionExpression).toContain('#committed <= :committedBefore');
    expect(input.ConditionExpression).toContain('#rpmMinute < :rpmMinute');
    expectOnlyPlaceholders(input, ['res_abc', '98500', '2026-11-21T10:15']);
    expect(result.standing.remaining).toBe(58_500);
    expect(result.counted).toEqual({ limit: 60, remaining: 59, resetsAt: nowSeconds + 30 });
  });

  it('with countRequest, a full minute refuses both (a requests error) and a full budget refuses both (a tokens error)', async () => {
    ddb.on(UpdateCommand).rejects(
      conditionFailed({
        rpm_minute: { S: '2026-11-21T10:15' },
        rpm_used: { N: '60' },
        committed: { N: '0' },
      }),
    );
    const minuteFull = await new DynamoQuotaLedger(client, 'quotas')
      .hold({ ...request, countRequest: minute })
      .catch((caught: unknown) => caught);
    ddb.reset();
    ddb.on(UpdateCommand).rejects(conditionFailed({ committed: { N: '99000' } }));
    const budgetFull = await new DynamoQuotaLedger(client, 'quotas')
      .hold({ ...request, countRequest: minute })
      .catch((caught: unknown) => caught);

    expect(minuteFull).toMatchObject({ code: 'rate_limit_exceeded', statusCode: 429 });
    expect(budgetFull).toMatchObject({ code: 'token_quota_exceeded', statusCode: 429 });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
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

describe('counter items are parsed, not cast', () => {
  const request = holdRequest;
  const corrupt = async (write: Promise<unknown>) => {
    const error = await write.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ statusCode: 500, code: 'corrupt_record', expose: false });
    expect((error as Error).message).toContain('quotas item TENANT#ten_1/QUOTA#tokens_per_month#2026-11');
    return (error as Error).message;
  };

  it('a counter of the wrong type in what a write returns is a CorruptRecordError, not a standing', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { committed: '41500', reserved: 1_500 } });

    expect(await corrupt(ledger.hold(request))).toContain('committed');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('a refused write whose item holds a malformed hold is refused as corrupt, and nothing is reclaimed', async () => {
    ddb.on(UpdateCommand).rejects(
      conditionFailed({
        committed: { N: '99000' },
        hold_res_dead: { M: { amount: { S: 'lots' }, expires_at: { N: String(nowSeconds - 1) } } },
      }),
    );

    expect(await corrupt(ledger.hold(request))).toContain('hold_res_dead');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('a hold missing its expiry, a request counter of the wrong type, or an unknown wire type is corrupt', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed({ hold_res_abc: { M: { amount: { N: '1500' } } } }))
      .rejectsOnce(conditionFailed({ rpm_minute: { S: '2026-11-21T10:15' }, rpm_used: { S: 'sixty' } }))
      .rejectsOnce(conditionFailed({ committed: { L: [{ N: '1' }] } }));

    expect(await corrupt(ledger.hold(request))).toContain('hold_res_abc');
    expect(await corrupt(new DynamoQuotaLedger(client, 'quotas').count(minute))).toContain('rpm_used');
    await corrupt(ledger.hold(request));
  });

  it('a refused item is read for what the ledger reads: a bad `used` (only a settle writes it) is left to the settle', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(
        conditionFailed({
          used: { S: 'not-a-number' },
          rpm_minute: { S: '2026-11-21T10:15' },
          rpm_used: { N: '3' },
        }),
      )
      .resolves({ Attributes: { rpm_used: 4 } });

    expect((await new DynamoQuotaLedger(client, 'quotas').count(minute)).remaining).toBe(56);
  });

  it('afterRefusedHold reads the wire item a transaction returned: its own hold is held, a bad item corrupt', async () => {
    const held = {
      committed: { N: '1500' },
      hold_res_abc: { M: { amount: { N: '1500' }, expires_at: { N: String(nowSeconds + 800) } } },
    };

    expect(await ledger.afterRefusedHold(request, held)).toBe('held');
    await corrupt(ledger.afterRefusedHold(request, { ...held, committed: { N: 'many' } }));
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});
