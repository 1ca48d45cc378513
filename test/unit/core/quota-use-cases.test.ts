// Unit: the quota use cases through an in-memory ledger: what they check before any write, what
// unlimited quotas skip, and the 429s and headers they answer with.
import { describe, expect, it } from 'vitest';
import { acquireRunSlot } from '../../../functions/core/quotas/acquire-run-slot';
import { checkRateLimit } from '../../../functions/core/quotas/check-rate-limit';
import { countToolInvocation } from '../../../functions/core/quotas/count-tool-invocation';
import { QuotaExceededError, rateLimitHeaders, resetDuration } from '../../../functions/core/quotas/errors';
import { counterRef, MAX_LEASE_SECONDS } from '../../../functions/core/quotas/ledger-rules';
import { releaseRunSlot } from '../../../functions/core/quotas/release-run-slot';
import { releaseTokens } from '../../../functions/core/quotas/release-tokens';
import { promptTokenBound, reserveTokens } from '../../../functions/core/quotas/reserve-tokens';
import { settleTokens } from '../../../functions/core/quotas/settle-tokens';
import { InMemoryQuotaLedger } from '../../helpers/quota-fakes';
import { manualClock } from '../../helpers/tenant-fakes';

const setup = () => {
  const ledger = new InMemoryQuotaLedger();
  const clock = manualClock(Date.UTC(2026, 10, 21, 10, 15, 30));
  return { ledger, clock, deps: { ledger, clock } };
};
const tenantId = 'ten_1';

describe('reserveTokens: checks before any write', () => {
  it.each([
    ['zero tokens', { tokens: 0 }, 'tokens', 'invalid_token_amount'],
    ['negative tokens', { tokens: -5 }, 'tokens', 'invalid_token_amount'],
    ['fractional tokens', { tokens: 1.5 }, 'tokens', 'invalid_token_amount'],
    ['NaN tokens', { tokens: Number.NaN }, 'tokens', 'invalid_token_amount'],
    [
      'a reservation id with spaces',
      { tokens: 10, reservationId: 'a b' },
      'reservation_id',
      'invalid_hold_id',
    ],
    [
      'an id with an expression character',
      { tokens: 10, reservationId: 'x)#y' },
      'reservation_id',
      'invalid_hold_id',
    ],
    ['a fractional lease', { tokens: 10, leaseSeconds: 0.5 }, 'lease_seconds', 'invalid_lease'],
  ])('%s → 400 naming %s, no write', async (_case, input, param, code) => {
    const { deps, ledger } = setup();

    const error = await reserveTokens(deps, { tenantId, limit: 1_000, ...input }).catch((caught) => caught);

    expect(error).toMatchObject({ statusCode: 400, type: 'invalid_request_error', param, code });
    expect(ledger.calls).toEqual([]);
  });

  it('more tokens than the whole monthly limit → 429 without a write, and no retry hint for clients', async () => {
    const { deps, ledger } = setup();

    const error = (await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 1_001 }).catch(
      (caught) => caught,
    )) as QuotaExceededError;

    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error.message).toContain('requested 1001');
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.headers['x-ratelimit-limit-tokens']).toBe('1000');
    expect(error.headers).not.toHaveProperty('x-ratelimit-remaining-tokens');
    expect(Number(error.headers['Retry-After'])).toBe(
      Math.floor(Date.UTC(2026, 11, 1) / 1000) - Math.floor(Date.UTC(2026, 10, 21, 10, 15, 30) / 1000),
    );
    expect(ledger.calls).toEqual([]);
  });

  it('an unlimited tenant reserves, settles and releases with no write at all', async () => {
    const { deps, ledger } = setup();

    const reservation = await reserveTokens(deps, { tenantId, limit: null, tokens: 5_000 });
    const settled = await settleTokens(deps, reservation, 4_000);
    const released = await releaseTokens(deps, reservation);

    expect(reservation).toEqual({ unlimited: true, tenantId, tokens: 5_000 });
    expect(settled).toEqual({ status: 'settled', charged: 4_000, overrun: 0 });
    expect(released.status).toBe('released');
    expect(ledger.calls).toEqual([]);
  });

  it("holds the month's counter with the default lease, capped leases, and a fresh id per call", async () => {
    const { deps } = setup();

    const first = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 100 });
    const second = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 100, leaseSeconds: 86_400 });

    if (first.unlimited || second.unlimited) throw new Error('expected holds');
    const nowSeconds = Math.floor(deps.clock.now().getTime() / 1000);
    expect(first).toMatchObject({
      quota: 'tokens_per_month',
      window: '2026-11',
      expiresAt: nowSeconds + 900,
    });
    expect(second.expiresAt).toBe(nowSeconds + MAX_LEASE_SECONDS);
    expect(first.holdId).not.toBe(second.holdId);
    // The budget after each hold, for the x-ratelimit-*-tokens headers of the response.
    expect([first.standing.remaining, second.standing.remaining]).toEqual([900, 800]);
  });

  it('a bad usage figure at settle is a 400 and leaves the reservation held', async () => {
    const { deps, ledger } = setup();
    const reservation = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 100 });

    await expect(settleTokens(deps, reservation, -1)).rejects.toMatchObject({
      statusCode: 400,
      param: 'usage',
    });

    expect([...ledger.counters.values()][0]).toMatchObject({ used: 0, reserved: 100 });
  });
});

describe('reserveTokens: an id that is held already', () => {
  const reservationId = 'run_1:step-0';

  it('grows a smaller hold to the call’s worst case, so all of its usage can be charged', async () => {
    const { deps, ledger } = setup();
    // An early guess under the step's id whose give-back failed (or a retry with a larger worst case).
    await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId });

    const reservation = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 500, reservationId });

    if (reservation.unlimited) throw new Error('expected a hold');
    expect(reservation).toMatchObject({ holdId: reservationId, amount: 500 });
    expect(reservation.standing.remaining).toBe(500);
    expect([...ledger.counters.values()][0]).toMatchObject({ used: 0, reserved: 500 });
    expect(ledger.calls).toEqual(['hold', 'hold', 'grow']);
    expect(await settleTokens(deps, reservation, 480)).toMatchObject({ charged: 480, overrun: 0 });
    expect([...ledger.counters.values()][0]).toMatchObject({ used: 480, reserved: 0, overrun: 0 });
  });

  it('keeps a hold that already covers the call, with no further write', async () => {
    const { deps, ledger } = setup();
    await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 500, reservationId });

    const reservation = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId });

    expect(reservation).toMatchObject({ amount: 500 });
    expect(ledger.calls).toEqual(['hold', 'hold']);
    expect([...ledger.counters.values()][0]).toMatchObject({ reserved: 500 });
  });

  it('a growth the budget cannot take is a 429, and the smaller hold stays as it was', async () => {
    const { deps, ledger } = setup();
    await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId });
    await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 600 });

    await expect(
      reserveTokens(deps, { tenantId, limit: 1_000, tokens: 500, reservationId }),
    ).rejects.toMatchObject({ statusCode: 429, quota: 'tokens_per_month' });

    expect([...ledger.counters.values()][0]).toMatchObject({ reserved: 900 });
    expect([...ledger.counters.values()][0]?.holds.get(reservationId)).toMatchObject({ amount: 300 });
  });

  it('renews a found hold to this call’s lease, so it is not reclaimed mid-call, and never shortens one', async () => {
    const { deps, ledger, clock } = setup();
    // An early guess with the inline lease, found by the worker's step a minute later with the default one.
    await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId, leaseSeconds: 35 });
    clock.advance(60_000);
    const nowSeconds = Math.floor(clock.now().getTime() / 1000);

    const reservation = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId });

    expect(reservation).toMatchObject({ amount: 300, expiresAt: nowSeconds + 900 });
    const stored = () => [...ledger.counters.values()][0]?.holds.get(reservationId);
    expect(stored()).toEqual({ amount: 300, expiresAt: nowSeconds + 900 });
    expect(ledger.calls).toEqual(['hold', 'hold', 'renew']);

    ledger.calls.length = 0;
    const shorter = await reserveTokens(deps, {
      tenantId,
      limit: 1_000,
      tokens: 300,
      reservationId,
      leaseSeconds: 35,
    });
    expect(shorter).toMatchObject({ expiresAt: nowSeconds + 900 });
    expect(stored()?.expiresAt).toBe(nowSeconds + 900);
    expect(ledger.calls).toEqual(['hold']);
  });

  it('gives up with a retryable 503 when the hold under its id keeps going away', async () => {
    const { deps, ledger } = setup();
    await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId });
    // Every growth finds the hold gone, and every hold finds a smaller one again (deliveries racing).
    ledger.grow = async () => ({ status: 'not_held' });

    await expect(
      reserveTokens(deps, { tenantId, limit: 1_000, tokens: 500, reservationId }),
    ).rejects.toMatchObject({ statusCode: 503, code: 'quota_ledger_contention' });
    expect(ledger.calls.filter((call) => call === 'hold')).toHaveLength(4);
  });

  it('holds afresh when the smaller hold is settled between the hold and the growth', async () => {
    const { deps, ledger } = setup();
    const first = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 300, reservationId });
    // Another delivery of the same step settles its hold just before this call grows it.
    const grow = ledger.grow.bind(ledger);
    ledger.grow = async (hold, request) => {
      await settleTokens(deps, first, 250);
      return grow(hold, request);
    };

    const reservation = await reserveTokens(deps, { tenantId, limit: 1_000, tokens: 500, reservationId });

    expect(reservation).toMatchObject({ holdId: reservationId, amount: 500 });
    expect([...ledger.counters.values()][0]).toMatchObject({ used: 250, reserved: 500 });
  });
});

describe('windowed counters', () => {
  it('a zero limit refuses without a write; unlimited skips the write', async () => {
    const { deps, ledger } = setup();

    await expect(checkRateLimit(deps, { tenantId, limit: 0 })).rejects.toMatchObject({
      statusCode: 429,
      headers: { 'Retry-After': '30', 'x-ratelimit-remaining-requests': '0' },
    });
    expect(await checkRateLimit(deps, { tenantId, limit: null })).toBeUndefined();
    expect(await countToolInvocation(deps, { tenantId, limit: null })).toBeUndefined();
    expect(ledger.calls).toEqual([]);
  });

  it('counts tool invocations in the UTC day and refuses the next with Retry-After to midnight', async () => {
    const { deps } = setup();
    await countToolInvocation(deps, { tenantId, limit: 1 });

    const error = (await countToolInvocation(deps, { tenantId, limit: 1 }).catch(
      (caught) => caught,
    )) as QuotaExceededError;

    expect(error.code).toBe('tool_invocation_quota_exceeded');
    expect(error.headers['Retry-After']).toBe(String(13 * 3600 + 44 * 60 + 30));
    expect(error.headers['x-should-retry']).toBe('false');
  });
});

describe('run slots', () => {
  it('a zero limit refuses, unlimited skips, and the run id must be inert', async () => {
    const { deps, ledger } = setup();

    await expect(acquireRunSlot(deps, { tenantId, runId: 'run_1', limit: 0 })).rejects.toBeInstanceOf(
      QuotaExceededError,
    );
    await expect(acquireRunSlot(deps, { tenantId, runId: 'run 1', limit: 3 })).rejects.toMatchObject({
      statusCode: 400,
      param: 'run_id',
    });
    const slot = await acquireRunSlot(deps, { tenantId, runId: 'run_1', limit: null });
    expect(await releaseRunSlot(deps, slot)).toEqual({ status: 'released' });
    expect(ledger.calls).toEqual([]);
  });

  it('a gauge has no reset time: Retry-After is a short wait and there are no window headers', async () => {
    const { deps } = setup();
    await acquireRunSlot(deps, { tenantId, runId: 'run_1', limit: 1 });

    const error = (await acquireRunSlot(deps, { tenantId, runId: 'run_2', limit: 1 }).catch(
      (caught) => caught,
    )) as QuotaExceededError;

    expect(error.code).toBe('concurrent_runs_exceeded');
    expect(error.headers).toEqual({ 'Retry-After': '1' });
  });
});

describe('headers and windows', () => {
  it.each([
    [0, '0s'],
    [20, '20s'],
    [360, '6m0s'],
    [3_661, '1h1m1s'],
    [0.2, '1s'],
  ])('resetDuration(%s) = %s, the way OpenAI writes it', (seconds, expected) => {
    expect(resetDuration(seconds)).toBe(expected);
  });

  it("names the tokens headers after OpenAI's, and leaves quotas OpenAI has none for to Retry-After", () => {
    const standing = { limit: 10, remaining: 4, resetsAt: 100 };
    expect(Object.keys(rateLimitHeaders('tokens_per_month', standing, 40))).toEqual([
      'x-ratelimit-limit-tokens',
      'x-ratelimit-remaining-tokens',
      'x-ratelimit-reset-tokens',
    ]);
    expect(rateLimitHeaders('tool_invocations_per_day', standing, 40)).toEqual({});
  });

  it('counter references come from the quota windows, in UTC', () => {
    const now = new Date('2026-12-31T23:59:59Z');
    expect(counterRef('t', 'tokens_per_month', now)).toEqual({
      tenantId: 't',
      quota: 'tokens_per_month',
      window: '2026-12',
      resetsAt: Date.UTC(2027, 0, 1) / 1000,
    });
    expect(counterRef('t', 'concurrent_runs', now)).toMatchObject({ window: null, resetsAt: null });
  });

  it('the prompt bound is at least one token per UTF-8 byte plus framing', () => {
    const texts = ['héllo', '日本'];
    expect(promptTokenBound(texts, 2)).toBe(6 + 6 + 4 * 2 + 3);
  });
});
