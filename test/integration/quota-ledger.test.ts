// The quota ledger through the real DynamoDB adapter against AWS's DynamoDB Local: the invariants of the
// Chat issue under concurrency, idempotent settle/release, reclaim of a crashed caller's reservation, and
// the rate limit through the account-api handler.
//
// Concurrency: each 200-operation test keeps at most 50 writes in flight. DynamoDB Local is exact under
// about 50 concurrent writers to one item; beyond that it starts refusing connections, which would test
// the emulator rather than the ledger. The real service serialises writes to an item the same way.
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoQuotaLedger } from '../../functions/adapters/dynamodb/quota-ledger';
import { DynamoUsageReader, quotaCounterKey } from '../../functions/adapters/dynamodb/usage-reader';
import { acquireRunSlot, renewRunSlot } from '../../functions/core/quotas/acquire-run-slot';
import { checkRateLimit } from '../../functions/core/quotas/check-rate-limit';
import { countToolInvocation } from '../../functions/core/quotas/count-tool-invocation';
import { QuotaExceededError } from '../../functions/core/quotas/errors';
import { getUsage } from '../../functions/core/quotas/get-usage';
import { releaseRunSlot } from '../../functions/core/quotas/release-run-slot';
import { releaseTokens } from '../../functions/core/quotas/release-tokens';
import { admitRequest, RequestMeter } from '../../functions/core/quotas/request-meter';
import { reserveTokens } from '../../functions/core/quotas/reserve-tokens';
import { settleTokens } from '../../functions/core/quotas/settle-tokens';
import { TABLES } from '../../functions/platform/tables';
import { countedDocumentClient, dynamoRequestsOf } from '../helpers/dynamo-requests';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { InMemoryQuotaLedger } from '../helpers/quota-fakes';

await vi.hoisted(() => import('../helpers/test-env'));

const { createAccountApi } = await import('../../functions/handlers/account-api');
const {
  InMemoryTenantStore,
  PLANS,
  lambdaContext,
  loadEvent,
  manualClock,
  memoryLogger,
  seedSampleTenant,
  settings,
} = await import('../helpers/tenant-fakes');

// DynamoDB Local evaluates conditional writes exactly up to about 50 concurrent writers.
const IN_FLIGHT = 50;

// The ledger writes TTLs from the injected clock, and DynamoDB Local really deletes expired items in
// the background: a clock in the past would let it sweep a counter away mid-test. Tests run in 2099.
const NOW = Date.UTC(2099, 10, 21, 9, 0, 0);
const TENANT = 'ten_01m7yq1we0bh6ky4emv0srek28';

let local: DynamoDbLocal;
let tableCount = 0;

beforeAll(async () => {
  local = await startDynamoDbLocal();
});

afterAll(async () => {
  await local?.stop();
});

/** A fresh quotas table per test, so counters never leak between tests. */
const freshLedger = async () => {
  tableCount += 1;
  const tableName = `quotas-it-${tableCount}-${Date.now()}`;
  await local.createTable(TABLES.quotas, tableName);
  const ledger = new DynamoQuotaLedger(local.documentClient, tableName);
  const clock = manualClock(NOW);
  const item = async (quota: string, window: string | null) =>
    (
      await local.documentClient.send(
        new GetCommand({
          TableName: tableName,
          Key: quotaCounterKey(TENANT, quota as never, window),
          ConsistentRead: true,
        }),
      )
    ).Item;
  const scan = async () =>
    (await local.documentClient.send(new ScanCommand({ TableName: tableName, ConsistentRead: true })))
      .Items ?? [];
  return {
    ledger,
    clock,
    tableName,
    item,
    scan,
    usage: new DynamoUsageReader(local.documentClient, tableName),
  };
};

/** Runs `tasks` with at most `limit` in flight; resolves with each task's settled outcome, in order. */
const pool = async <T>(tasks: (() => Promise<T>)[], limit: number): Promise<PromiseSettledResult<T>[]> => {
  const results: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next;
      next += 1;
      try {
        results[index] = { status: 'fulfilled', value: await tasks[index]!() };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
};

/** A seeded generator (mulberry32), so a failing run can be replayed from the seed in its message. */
const seeded = (seed: number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

describe('tokens_per_month under concurrency', () => {
  it('200 concurrent reserve→settle cycles: used ≤ limit, nothing left reserved, used = the sum reported', async () => {
    const { ledger, clock, item, usage } = await freshLedger();
    const limit = 10_000;
    const seed = Date.now() % 1_000_000;
    const random = seeded(seed);
    const cycles = Array.from({ length: 200 }, () => {
      const reserve = 50 + Math.floor(random() * 450);
      return { reserve, usage: Math.floor(random() * (reserve + 1)), fails: random() < 0.1 };
    });

    const outcomes = await pool(
      cycles.map((cycle) => async () => {
        const reservation = await reserveTokens(
          { ledger, clock },
          { tenantId: TENANT, limit, tokens: cycle.reserve },
        );
        if (cycle.fails) {
          // The LLM call failed: the reservation goes back and nothing is charged.
          await releaseTokens({ ledger }, reservation);
          return 0;
        }
        const settled = await settleTokens({ ledger }, reservation, cycle.usage);
        if (settled.status !== 'settled' || settled.charged !== cycle.usage) {
          throw new Error(`settle was ${JSON.stringify(settled)} for usage ${cycle.usage}`);
        }
        // What a response would report: the LLM's own usage figure.
        return cycle.usage;
      }),
      IN_FLIGHT,
    );

    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
    const reported = outcomes
      .filter((outcome) => outcome.status === 'fulfilled')
      .reduce((sum, outcome) => sum + outcome.value, 0);
    const counter = await item('tokens_per_month', '2099-11');
    const message = `seed ${seed}`;
    expect(rejected.length, message).toBeGreaterThan(0);
    expect(outcomes.length - rejected.length, message).toBeGreaterThan(0);
    for (const outcome of rejected) expect(outcome.reason, message).toBeInstanceOf(QuotaExceededError);
    expect(counter?.used, message).toBeLessThanOrEqual(limit);
    expect(counter?.used, message).toBe(reported);
    expect(counter?.reserved, message).toBe(0);
    expect(counter?.committed, message).toBe(counter?.used);
    expect(
      Object.keys(counter ?? {}).filter((name) => name.startsWith('hold_')),
      message,
    ).toEqual([]);
    const report = await getUsage(
      { usage, clock, plans: PLANS, defaultPlan: 'free' },
      {
        id: TENANT,
        plan: 'free',
        quota_overrides: { tokens_per_month: limit },
      },
    );
    expect(report.tokens_per_month, message).toMatchObject({ limit, used: reported, reserved: 0 });
  });

  it('holds never pass the limit while calls are in flight', async () => {
    const { ledger, clock, item } = await freshLedger();
    const limit = 1_000;

    const outcomes = await pool(
      Array.from(
        { length: 200 },
        (_, i) => () => reserveTokens({ ledger, clock }, { tenantId: TENANT, limit, tokens: 7 + (i % 5) }),
      ),
      IN_FLIGHT,
    );

    const held = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const heldTokens = held.reduce(
      (sum, outcome) => sum + (outcome.value.unlimited ? 0 : outcome.value.amount),
      0,
    );
    const counter = await item('tokens_per_month', '2099-11');
    expect(counter?.reserved).toBe(heldTokens);
    expect(counter?.committed).toBeLessThanOrEqual(limit);
    // Sizes are 7..11 tokens: once refusals start, the budget is within 11 tokens of full.
    expect(limit - (counter?.committed as number)).toBeLessThan(11);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toBeInstanceOf(QuotaExceededError);
    }
  });
});

describe('requests_per_minute under concurrency', () => {
  it('200 concurrent requests against a limit of N admit exactly N', async () => {
    const { ledger, clock, item } = await freshLedger();
    const limit = 37;

    const outcomes = await pool(
      Array.from({ length: 200 }, () => () => checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit })),
      IN_FLIGHT,
    );

    const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const remaining = admitted.map((outcome) => outcome.value?.remaining).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(admitted).toHaveLength(limit);
    // Each admitted request saw a different count: the increments were atomic.
    expect(remaining).toEqual(Array.from({ length: limit }, (_, i) => i));
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toBeInstanceOf(QuotaExceededError);
      expect((outcome.reason as QuotaExceededError).headers['Retry-After']).toBe('60');
    }
    // The minute's requests are counted on the month's token item.
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({
      rpm_minute: '2099-11-21T09:00',
      rpm_used: limit,
    });
  });

  it('metered requests (count + token hold in one write) under concurrency: both limits hold, both or neither', async () => {
    const { ledger, clock, item } = await freshLedger();
    const requestLimit = 40;
    const tokenLimit = 30 * 100;
    // Requests of 100 tokens: the budget admits 30 holds, the minute 40 requests; 40 plain requests (no hold)
    // compete for the same minute.
    const metered = Array.from({ length: 120 }, (_, index) => async () => {
      const meter = new RequestMeter(TENANT, requestLimit);
      const reservation = await reserveTokens(
        { ledger, clock },
        { tenantId: TENANT, limit: tokenLimit, tokens: 100, reservationId: `res_${index}`, meter },
      );
      return { kind: 'metered' as const, reservation, standing: meter.standing };
    });
    const plain = Array.from({ length: 40 }, () => async () => {
      const meter = new RequestMeter(TENANT, requestLimit);
      await admitRequest({ ledger, clock }, meter);
      return { kind: 'plain' as const, standing: meter.standing };
    });
    const tasks = [...metered, ...plain].sort(() => 0.5 - seeded(7)());

    const outcomes = await pool<{ kind: string; standing?: { remaining: number } }>(tasks, IN_FLIGHT);

    const admitted = outcomes
      .filter((outcome) => outcome.status === 'fulfilled')
      .map((outcome) => outcome.value);
    const holds = admitted.filter((value) => value.kind === 'metered').length;
    const counter = await item('tokens_per_month', '2099-11');
    // Every admitted request was counted once, none beyond the minute's limit.
    expect(counter?.rpm_used).toBe(admitted.length);
    // 160 requests compete for 40: a hold refused by the budget did not count, so the minute fills exactly.
    expect(admitted.length).toBe(requestLimit);
    // Every hold counted its request; a refused one left neither a hold nor a count behind.
    expect(counter?.reserved).toBe(holds * 100);
    expect(counter?.committed).toBeLessThanOrEqual(tokenLimit);
    expect(new Set(admitted.map((value) => value.standing?.remaining)).size).toBe(admitted.length);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toBeInstanceOf(QuotaExceededError);
    }
  });

  it('a new minute opens a new window', async () => {
    const { ledger, clock } = await freshLedger();
    await checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: 1 });
    await expect(checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: 1 })).rejects.toBeInstanceOf(
      QuotaExceededError,
    );

    clock.advance(60_000);

    await expect(checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: 1 })).resolves.toMatchObject({
      remaining: 0,
    });
  });
});

describe('idempotent settle and release', () => {
  it('a retried settle charges once; a release after it changes nothing', async () => {
    const { ledger, clock, item } = await freshLedger();
    const reservation = await reserveTokens(
      { ledger, clock },
      { tenantId: TENANT, limit: 1_000, tokens: 300 },
    );

    const first = await settleTokens({ ledger }, reservation, 120);
    const retried = await settleTokens({ ledger }, reservation, 120);
    const released = await releaseTokens({ ledger }, reservation);

    expect(first).toEqual({ status: 'settled', charged: 120, overrun: 0 });
    expect(retried).toEqual({ status: 'not_held' });
    expect(released).toEqual({ status: 'not_held' });
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({
      used: 120,
      reserved: 0,
      committed: 120,
    });
  });

  it('a retried release gives back once; a settle after it charges nothing', async () => {
    const { ledger, clock, item } = await freshLedger();
    const kept = await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 1_000, tokens: 100 });
    const reservation = await reserveTokens(
      { ledger, clock },
      { tenantId: TENANT, limit: 1_000, tokens: 300 },
    );

    const first = await releaseTokens({ ledger }, reservation);
    const retried = await releaseTokens({ ledger }, reservation);
    const settled = await settleTokens({ ledger }, reservation, 50);

    expect([first.status, retried.status, settled.status]).toEqual(['released', 'not_held', 'not_held']);
    const counter = await item('tokens_per_month', '2099-11');
    // Nothing was ever settled, so nothing was charged: `used` is only written by a settle.
    expect(counter?.used ?? 0).toBe(0);
    expect(counter).toMatchObject({ reserved: 100, committed: 100 });
    expect(kept.unlimited).toBe(false);
  });

  it('a repeated reservation id holds once, however often it is sent', async () => {
    const { ledger, clock, item } = await freshLedger();
    const input = { tenantId: TENANT, limit: 1_000, tokens: 400, reservationId: 'run_1:step-1' };

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => reserveTokens({ ledger, clock }, input)),
    );

    expect(new Set(outcomes.map((outcome) => JSON.stringify(outcome))).size).toBe(1);
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({ reserved: 400, committed: 400 });
  });

  it('usage beyond the reservation is capped and recorded as overrun, never past the limit', async () => {
    const { ledger, clock, item } = await freshLedger();
    const reservation = await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 500, tokens: 500 });

    const settled = await settleTokens({ ledger }, reservation, 650);

    expect(settled).toEqual({ status: 'settled', charged: 500, overrun: 150 });
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({
      used: 500,
      reserved: 0,
      committed: 500,
      overrun: 150,
    });
  });
});

describe('growing a hold, and giving back a request admitted ahead of its checks', () => {
  it('grow raises a hold within the limit, refuses past it (the hold unchanged), and a retried grow adds once', async () => {
    const { ledger, clock, item } = await freshLedger();
    await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 1_000, tokens: 500 });
    const reservation = await reserveTokens(
      { ledger, clock },
      { tenantId: TENANT, limit: 1_000, tokens: 200, reservationId: 'run_1:step-0' },
    );
    if (reservation.unlimited) throw new Error('expected a hold');
    const nowSeconds = Math.floor(clock.now().getTime() / 1000);

    const grown = await ledger.grow(reservation, { amount: 450, limit: 1_000, nowSeconds });
    const retried = await ledger.grow(reservation, { amount: 450, limit: 1_000, nowSeconds });
    expect(grown).toMatchObject({ status: 'grown', hold: { amount: 450 }, standing: { remaining: 50 } });
    expect(retried).toMatchObject({ status: 'grown', hold: { amount: 450 } });
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({ reserved: 950, committed: 950 });

    if (grown.status !== 'grown') throw new Error('expected a grown hold');
    // 50 tokens are left: growing by 51 would pass the limit.
    await expect(ledger.grow(grown.hold, { amount: 501, limit: 1_000, nowSeconds })).rejects.toBeInstanceOf(
      QuotaExceededError,
    );
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({ reserved: 950, committed: 950 });

    // The grown hold settles and releases like any: by its new amount.
    expect(
      await settleTokens({ ledger }, { ...grown.hold, unlimited: false, standing: grown.standing }, 300),
    ).toEqual({
      status: 'settled',
      charged: 300,
      overrun: 0,
    });
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({
      used: 300,
      reserved: 500,
      committed: 800,
    });
    expect(await ledger.grow(grown.hold, { amount: 600, limit: 1_000, nowSeconds })).toEqual({
      status: 'not_held',
    });
  });

  it('a release that uncounts takes the request back with the hold, once, and only in its own minute', async () => {
    const { ledger, clock, item } = await freshLedger();
    const admit = async (reservationId: string) => {
      // What the hold's write counts: the same minute as the meter's own take below.
      const count = new RequestMeter(TENANT, 10).take(clock);
      const meter = new RequestMeter(TENANT, 10);
      const reservation = await reserveTokens(
        { ledger, clock },
        { tenantId: TENANT, limit: 1_000, tokens: 100, reservationId, meter },
      );
      if (reservation.unlimited || !count) throw new Error('expected a counted hold');
      return { reservation, count };
    };
    await admit('res_kept');
    const speculative = await admit('res_undone');
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({ rpm_used: 2, committed: 200 });

    const first = await ledger.release(speculative.reservation, { uncount: speculative.count });
    const retried = await ledger.release(speculative.reservation, { uncount: speculative.count });

    expect([first.status, retried.status]).toEqual(['released', 'not_held']);
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({
      rpm_used: 1,
      reserved: 100,
      committed: 100,
    });

    // Counted in one minute, given back in the next: that minute's count is not the request's to take.
    const late = await admit('res_late');
    clock.advance(60_000);
    await checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: 10 });
    expect(await ledger.release(late.reservation, { uncount: late.count })).toEqual({ status: 'released' });
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({
      rpm_used: 1,
      reserved: 100,
      committed: 100,
    });
  });
});

describe("a crashed caller's reservation", () => {
  it('blocks the budget until its lease ends, then is reclaimed by the next refused reservation', async () => {
    const { ledger, clock, item, usage } = await freshLedger();
    const limit = 1_000;
    const crashed = await reserveTokens(
      { ledger, clock },
      { tenantId: TENANT, limit, tokens: 800, leaseSeconds: 120 },
    );
    const reportOf = async () =>
      (
        await getUsage(
          { usage, clock, plans: PLANS, defaultPlan: 'free' },
          {
            id: TENANT,
            plan: 'free',
            quota_overrides: { tokens_per_month: limit },
          },
        )
      ).tokens_per_month;

    clock.advance(60_000);
    await expect(
      reserveTokens({ ledger, clock }, { tenantId: TENANT, limit, tokens: 500 }),
    ).rejects.toBeInstanceOf(QuotaExceededError);
    expect((await reportOf()).reserved).toBe(800);

    clock.advance(61_000);
    // Past its lease the report no longer counts it, even before anyone reclaims it.
    expect((await reportOf()).reserved).toBe(0);
    const next = await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit, tokens: 500 });
    const lateSettle = await settleTokens({ ledger }, crashed, 700);

    expect(next.unlimited).toBe(false);
    expect(lateSettle).toEqual({ status: 'not_held' });
    const counter = await item('tokens_per_month', '2099-11');
    expect(counter?.used ?? 0).toBe(0);
    expect(counter).toMatchObject({ reserved: 500, committed: 500 });
    expect(counter?.[`hold_${(crashed as { holdId: string }).holdId}`]).toBeUndefined();
  });

  it('a growth the crashed hold stands in the way of reclaims it, on DynamoDB as on the in-memory fake', async () => {
    const { ledger: dynamo, clock } = await freshLedger();
    for (const ledger of [dynamo, new InMemoryQuotaLedger()]) {
      const name = ledger.constructor.name;
      await reserveTokens(
        { ledger, clock },
        { tenantId: TENANT, limit: 1_000, tokens: 700, leaseSeconds: 60 },
      );
      const live = await reserveTokens(
        { ledger, clock },
        { tenantId: TENANT, limit: 1_000, tokens: 200, leaseSeconds: 600 },
      );
      if (live.unlimited) throw new Error('expected a hold');
      clock.advance(61_000);
      const nowSeconds = Math.floor(clock.now().getTime() / 1000);
      const grown = await ledger.grow(live, { amount: 900, limit: 1_000, nowSeconds });
      expect(grown, name).toMatchObject({
        status: 'grown',
        hold: { amount: 900 },
        standing: { remaining: 100 },
      });
    }
  });

  it('a live reservation is never reclaimed, however full the budget', async () => {
    const { ledger, clock, item } = await freshLedger();
    await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 100, tokens: 100, leaseSeconds: 600 });
    clock.advance(599_000);

    await expect(
      reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 100, tokens: 1 }),
    ).rejects.toBeInstanceOf(QuotaExceededError);
    expect(await item('tokens_per_month', '2099-11')).toMatchObject({ reserved: 100, committed: 100 });
  });
});

describe('run slots, tool invocations and unlimited quotas', () => {
  it('50 concurrent runs against 5 slots: exactly 5 start; a finished run frees its slot once', async () => {
    const { ledger, clock, item } = await freshLedger();
    const outcomes = await pool(
      Array.from(
        { length: 50 },
        (_, i) => () => acquireRunSlot({ ledger, clock }, { tenantId: TENANT, runId: `run_${i}`, limit: 5 }),
      ),
      IN_FLIGHT,
    );
    const started = outcomes
      .filter((outcome) => outcome.status === 'fulfilled')
      .map((outcome) => outcome.value);
    expect(started).toHaveLength(5);

    const first = await releaseRunSlot({ ledger }, started[0]!);
    const again = await releaseRunSlot({ ledger }, started[0]!);

    expect([first.status, again.status]).toEqual(['released', 'not_held']);
    expect(await item('concurrent_runs', null)).toMatchObject({ reserved: 4, committed: 4 });
  });

  it('a renewed slot outlives its first lease; one left to it is reclaimed after it', async () => {
    const { ledger, clock, item } = await freshLedger();
    const take = (runId: string) =>
      acquireRunSlot({ ledger, clock }, { tenantId: TENANT, runId, limit: 2, leaseSeconds: 35 });
    await take('run_renewed');
    await take('run_crashed');

    const renewed = await renewRunSlot({ ledger, clock }, TENANT, 'run_renewed');
    clock.advance(60_000);
    await take('run_next');

    expect(renewed).toEqual({ status: 'renewed' });
    const gauge = await item('concurrent_runs', null);
    expect(gauge).toMatchObject({ reserved: 2, committed: 2 });
    expect(gauge?.hold_run_crashed).toBeUndefined();
    await expect(take('run_last')).rejects.toBeInstanceOf(QuotaExceededError);
    // A slot already given back cannot be renewed into existence.
    expect(await renewRunSlot({ ledger, clock }, TENANT, 'run_crashed')).toEqual({ status: 'not_held' });
  });

  it('tool invocations stop at the daily limit and start again the next day', async () => {
    const { ledger, clock } = await freshLedger();
    const count = () => countToolInvocation({ ledger, clock }, { tenantId: TENANT, limit: 2 });
    await count();
    await count();
    await expect(count()).rejects.toMatchObject({ statusCode: 429, code: 'tool_invocation_quota_exceeded' });

    clock.advance(86_400_000);

    await expect(count()).resolves.toMatchObject({ limit: 2, remaining: 1 });
  });

  it('unlimited quotas write nothing; written items carry a TTL after their window', async () => {
    const { ledger, clock, scan } = await freshLedger();
    const reservation = await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: null, tokens: 10 });
    await settleTokens({ ledger }, reservation, 10);
    await checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: null });
    await countToolInvocation({ ledger, clock }, { tenantId: TENANT, limit: null });
    expect(await scan()).toEqual([]);

    await checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: 5 });
    const [counter] = await scan();
    const windowEnd = Math.floor(Date.UTC(2099, 10, 21, 9, 1) / 1000);
    expect(counter?.[TABLES.quotas.ttlAttribute]).toBeGreaterThan(windowEnd);
  });
});

describe('account-api rate limit on DynamoDB Local', () => {
  it('answers N requests with x-ratelimit headers, then 429 in the envelope with Retry-After', async () => {
    const { ledger, clock } = await freshLedger();
    const store = new InMemoryTenantStore();
    await seedSampleTenant(store);
    await store.updateTenant(TENANT, { quota_overrides: { requests_per_minute: 3 }, updated_at: 1 });
    const api = createAccountApi(
      { store, ledger, usage: new DynamoUsageReader(local.documentClient, 'unused'), clock, settings },
      { logger: memoryLogger().logger },
    );
    const call = async () =>
      (await api(loadEvent('account-api', 'list-models'), lambdaContext())) as {
        statusCode: number;
        headers: Record<string, string>;
        body: string;
      };

    const admitted = [await call(), await call(), await call()];
    const refused = await call();

    expect(admitted.map((response) => response.statusCode)).toEqual([200, 200, 200]);
    expect(admitted.map((response) => response.headers['x-ratelimit-remaining-requests'])).toEqual([
      '2',
      '1',
      '0',
    ]);
    expect(admitted[0]?.headers['x-ratelimit-limit-requests']).toBe('3');
    expect(refused.statusCode).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({
      error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
    });
    expect(refused.headers).toMatchObject({
      'Retry-After': '60',
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m0s',
    });
  });
});

describe('DynamoDB requests per operation', () => {
  it('reserve, settle, release and a rate-limit count are one request each; a reservation that must first reclaim a stale hold is three', async () => {
    const { tableName } = await freshLedger();
    const client = countedDocumentClient(local.client);
    const ledger = new DynamoQuotaLedger(client, tableName);
    const clock = manualClock(NOW);
    const measure = async (run: () => Promise<unknown>) =>
      (await dynamoRequestsOf(() => run().catch(() => undefined))).length;

    const reservation = await reserveTokens(
      { ledger, clock },
      { tenantId: TENANT, limit: 1_000, tokens: 900 },
    );
    const settle = await measure(() => settleTokens({ ledger }, reservation, 10));
    const reserve = await measure(() =>
      reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 1_000, tokens: 500 }),
    );
    const count = await measure(() => checkRateLimit({ ledger, clock }, { tenantId: TENANT, limit: 5 }));
    const second = await reserveTokens(
      { ledger, clock },
      { tenantId: TENANT, limit: 1_000, tokens: 400, leaseSeconds: 60 },
    );
    const release = await measure(() => releaseTokens({ ledger }, second));
    await reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 1_000, tokens: 480, leaseSeconds: 60 });
    clock.advance(61_000);
    const refusedWithReclaim = await measure(() =>
      reserveTokens({ ledger, clock }, { tenantId: TENANT, limit: 1_000, tokens: 400 }),
    );

    expect({ settle, reserve, count, release, refusedWithReclaim }).toEqual({
      settle: 1,
      reserve: 1,
      count: 1,
      release: 1,
      refusedWithReclaim: 3,
    });
  });
});
