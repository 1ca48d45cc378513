// Unit: ChatPrefetch, the early admissions' protocol, on the in-memory ledger: what an unclaimed handle's
// undo gives back and what a claim keeps, the claim only of a prefetch made for this turn, the bounds of
// the remembered quotas and session bases, and the undo when the key is refused (through the handler).
import { describe, expect, it, vi } from 'vitest';

await vi.hoisted(() => import('../../helpers/test-env'));

const { ChatPrefetch } = await import('../../../functions/core/chat/prefetch');
const { earlyReservationTokens, undoEarlyAdmission } = await import(
  '../../../functions/core/chat/early-admission'
);
const { createChatApi } = await import('../../../functions/handlers/chat-api');
const { lambdaContext, loadEvent, memoryLogger } = await import('../../helpers/tenant-fakes');
const { chatSetup, slotsHeld, tokenCounter } = await import('./fakes');

type Setup = Awaited<ReturnType<typeof chatSetup>>;

const QUOTAS = { tokens_per_month: 1_000_000, requests_per_minute: 100, concurrent_runs: 5 };

const prefetchFor = (setup: Setup, sizes: { tenants?: number; sessions?: number } = {}) =>
  new ChatPrefetch({ settings: setup.deps.settings, chat: () => setup.deps }, sizes);

const turnRequest = (tenantId: string, sessionId: string, content = 'Hello') => ({
  operationId: 'sendMessage',
  tenantId,
  pathParameters: { id: sessionId },
  body: () => JSON.stringify({ content }),
});

/** A turn's prefetch for the setup's tenant and session, its quotas remembered by an earlier turn. */
const startedTurn = async (setup: Setup, prefetch = prefetchFor(setup)) => {
  await prefetch.claimTurn(undefined, setup.tenant, setup.session.id);
  const handle = prefetch.start(turnRequest(setup.tenant.id, setup.session.id));
  return { prefetch, handle };
};

describe('ChatPrefetch: claim and undo', () => {
  it('unclaimed, undo gives back the hold with its count and the slot, once', async () => {
    const setup = await chatSetup([], { quotas: QUOTAS });
    const { handle } = await startedTurn(setup);

    await handle?.undo();
    await handle?.undo();

    // One write for the tokens with the count, one for the slot; each given back once.
    expect([...setup.ledger.calls].sort()).toEqual(['hold', 'hold+count', 'release', 'release+uncount']);
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
    expect(slotsHeld(setup.ledger)).toBe(0);
  });

  it("claimed, it is the use case's: undo gives nothing back", async () => {
    const setup = await chatSetup([], { quotas: QUOTAS });
    const { prefetch, handle } = await startedTurn(setup);

    const turn = await prefetch.claimTurn(handle, setup.tenant, setup.session.id);
    await handle?.undo();

    expect(turn.options.early?.reservation.amount).toBe(earlyReservationTokens('Hello'));
    expect(turn.options.loaded?.session.id).toBe(setup.session.id);
    expect(setup.ledger.calls.filter((call) => call.startsWith('release'))).toEqual([]);
    expect(tokenCounter(setup.ledger).reserved).toBe(earlyReservationTokens('Hello'));
    expect(slotsHeld(setup.ledger)).toBe(1);
  });

  it('a prefetch made for another session or route is not claimed, and undo gives it back', async () => {
    const setup = await chatSetup([], { quotas: QUOTAS });
    const { prefetch, handle } = await startedTurn(setup);

    const other = await prefetch.claimTurn(handle, setup.tenant, setup.deps.ids.newId('ses'));
    const asCompletion = await prefetch.claimCompletion(handle, setup.tenant);
    await handle?.undo();

    expect(other.options).not.toHaveProperty('early');
    expect(other.options).not.toHaveProperty('loaded');
    expect(asCompletion).toEqual({});
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
    expect(slotsHeld(setup.ledger)).toBe(0);
  });

  it('a route without a prefetch starts nothing', async () => {
    const setup = await chatSetup([], { quotas: QUOTAS });
    const prefetch = prefetchFor(setup);
    await prefetch.claimTurn(undefined, setup.tenant, setup.session.id);

    const handle = prefetch.start({
      ...turnRequest(setup.tenant.id, setup.session.id),
      operationId: 'getSession',
    });

    expect(handle).toBeUndefined();
  });
});

describe('ChatPrefetch: what it remembers, bounded', () => {
  it('a tenant it has not served, or has forgotten for newer ones, gets no early admission', async () => {
    const setup = await chatSetup([], { quotas: QUOTAS });
    const prefetch = prefetchFor(setup, { tenants: 2 });
    const tenantOf = (id: string) => ({ ...setup.tenant, id });
    /** Whether a turn of this tenant is admitted early (given back at once); its quotas are remembered. */
    const admittedEarly = async (tenantId: string) => {
      const handle = prefetch.start(turnRequest(tenantId, setup.session.id));
      const { early } = (await prefetch.claimTurn(handle, tenantOf(tenantId), setup.session.id)).options;
      if (early) await undoEarlyAdmission(setup.deps, early);
      return early !== undefined;
    };
    const [first, second, third] = [
      setup.tenant.id,
      setup.deps.ids.newId('ten'),
      setup.deps.ids.newId('ten'),
    ];

    expect(await admittedEarly(first)).toBe(false); // not served yet; remembered from now on
    await prefetch.claimTurn(undefined, tenantOf(second), setup.session.id);
    expect(await admittedEarly(first)).toBe(true); // two tenants remembered
    await prefetch.claimTurn(undefined, tenantOf(second), setup.session.id);
    await prefetch.claimTurn(undefined, tenantOf(third), setup.session.id);
    expect(await admittedEarly(first)).toBe(false); // the one set longest ago is forgotten
  });

  it("a session's base sizes its next early hold, until newer sessions push it out", async () => {
    const setup = await chatSetup([], { quotas: QUOTAS });
    const prefetch = prefetchFor(setup, { sessions: 1 });
    const answeredTurn = async (sessionId: string, status: number) => {
      const turn = await prefetch.claimTurn(undefined, setup.tenant, sessionId);
      turn.options.onFirstStepTokens(50_000);
      turn.answered(status, { content: 'Fine, thanks.' });
    };
    /** The tokens the session's next turn holds early (given back at once; the claim forgets the base). */
    const heldBy = async () => {
      const handle = prefetch.start(turnRequest(setup.tenant.id, setup.session.id));
      const { early } = (await prefetch.claimTurn(handle, setup.tenant, setup.session.id)).options;
      if (early) await undoEarlyAdmission(setup.deps, early);
      return early?.reservation.amount;
    };
    const guess = earlyReservationTokens('Hello');

    await answeredTurn(setup.session.id, 202);
    expect(await heldBy()).toBe(guess); // handed off: its history's size is not known
    await answeredTurn(setup.session.id, 200);
    expect(await heldBy()).toBeGreaterThan(50_000); // the base, and the claim forgets it again
    expect(await heldBy()).toBe(guess);
    await answeredTurn(setup.session.id, 200);
    await answeredTurn(setup.deps.ids.newId('ses'), 200);
    expect(await heldBy()).toBe(guess); // one session remembered: the newer one
  });
});

describe('chat-api: the undo when the key is refused', () => {
  it('a turn admitted early whose key was revoked gives back its hold, its slot and its count', async () => {
    const setup = await chatSetup([{ text: 'Hi there' }, { text: 'never' }], { quotas: QUOTAS });
    const api = createChatApi(
      { ...setup.deps, tenants: setup.tenants.store, ledger: setup.ledger, chat: () => setup.deps },
      { logger: memoryLogger().logger, maxBodyBytes: 256 * 1024 },
    );
    const send = async () => {
      const event = loadEvent('chat-api', 'send-message');
      event.pathParameters.id = setup.session.id;
      event.rawPath = `/v1/sessions/${setup.session.id}/messages`;
      event.body = JSON.stringify({ content: 'Hello' });
      return (await api(event as never, lambdaContext())) as { statusCode: number };
    };
    expect((await send()).statusCode).toBe(200); // the tenant's quotas are remembered
    await setup.tenants.store.revokeApiKey(setup.sample.tenantId, setup.sample.keyId, 1);
    const before = tokenCounter(setup.ledger);
    setup.ledger.calls.length = 0;

    expect((await send()).statusCode).toBe(401);

    expect([...setup.ledger.calls].sort()).toEqual(['hold', 'hold+count', 'release', 'release+uncount']);
    expect(tokenCounter(setup.ledger)).toEqual(before);
    expect(slotsHeld(setup.ledger)).toBe(0);
    expect(setup.llm.requests).toHaveLength(1);
  });
});
