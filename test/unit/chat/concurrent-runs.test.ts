// Unit: the `concurrent_runs` quota. A run holds a slot from the write that creates it until it ends
// (completed, failed or cancelled); a run refused for want of a slot writes nothing and queues nothing.
import { describe, expect, it } from 'vitest';
import { cancelRun } from '../../../functions/core/chat/cancel-run';
import { executeRun, MAX_TOOL_CALLS_PER_STEP } from '../../../functions/core/chat/execute-run';
import { runExecuteEnvelope, runExecuteJob } from '../../../functions/core/chat/run-execute-job';
import { sendMessage } from '../../../functions/core/chat/send-message';
import { LlmAbortedError, LlmUnavailableError } from '../../../functions/core/llm/errors';
import { acquireRunSlot, RUN_SLOT_LEASE_SECONDS } from '../../../functions/core/quotas/acquire-run-slot';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';
import { createLogger } from '../../../functions/observability/logger';
import { chatSetup, slotHolds, slotsHeld, tokenCounter, USAGE } from './fakes';

describe('concurrent_runs', () => {
  it('a queued run holds its slot; the next run is refused with 429 and leaves nothing behind', async () => {
    const setup = await chatSetup([{ text: 'first answer' }], { quotas: { concurrent_runs: 1 } });
    const { deps, tenant, session, store, jobs, ledger } = setup;
    const first = await sendMessage(deps, tenant, session.id, { content: 'one', async: true });
    const messagesBefore = store.messages.get(`${tenant.id}/${session.id}`)?.length;
    const jobsBefore = jobs.enqueued.length;

    const refused = await sendMessage(deps, tenant, session.id, { content: 'two', async: true }).catch(
      (error: unknown) => error,
    );

    expect(first.status).toBe(202);
    expect(slotsHeld(ledger)).toBe(1);
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect(refused).toMatchObject({ statusCode: 429, code: 'concurrent_runs_exceeded' });
    expect(store.runs.size).toBe(1);
    expect(store.messages.get(`${tenant.id}/${session.id}`)?.length).toBe(messagesBefore);
    expect(jobs.enqueued.length).toBe(jobsBefore);
  });

  it('the slot comes back when the run completes, so the next run is accepted', async () => {
    const setup = await chatSetup([{ text: 'first answer' }], { quotas: { concurrent_runs: 1 } });
    const { deps, tenant, session, ledger } = setup;
    const first = await sendMessage(deps, tenant, session.id, { content: 'one', async: true });
    const runId = first.result.run.id;

    const outcome = await executeRun(deps, { tenant, runId });
    const next = await sendMessage(deps, tenant, session.id, { content: 'two', async: true });

    expect(outcome.status).toBe('completed');
    expect(next.status).toBe(202);
    expect(next.result.run.id).not.toBe(runId);
    expect(slotsHeld(ledger)).toBe(1);
  });

  it('an inline turn takes and gives back its slot within the request', async () => {
    const setup = await chatSetup([{ text: 'hello' }], { quotas: { concurrent_runs: 1 } });
    const { deps, tenant, session, ledger } = setup;

    const answered = await sendMessage(deps, tenant, session.id, { content: 'hi' });

    expect(answered.status).toBe(200);
    expect(answered.result.run.status).toBe('completed');
    expect(slotsHeld(ledger)).toBe(0);
  });

  it('an inline turn refused for its slot gives its token hold back, and one refused for its budget its slot', async () => {
    const busy = await chatSetup([{ text: 'never' }], { quotas: { concurrent_runs: 1 } });
    await sendMessage(busy.deps, busy.tenant, busy.session.id, { content: 'queued', async: true });
    const heldByQueued = tokenCounter(busy.ledger);
    const poor = await chatSetup([{ text: 'never' }], {
      quotas: { concurrent_runs: 1, tokens_per_month: 50 },
    });

    const noSlot = await sendMessage(busy.deps, busy.tenant, busy.session.id, { content: 'inline' }).catch(
      (error: unknown) => error,
    );
    const noBudget = await sendMessage(poor.deps, poor.tenant, poor.session.id, { content: 'inline' }).catch(
      (error: unknown) => error,
    );

    expect(noSlot).toMatchObject({ statusCode: 429, code: 'concurrent_runs_exceeded' });
    expect(tokenCounter(busy.ledger)).toEqual(heldByQueued);
    expect(busy.store.runs.size).toBe(1);
    expect(noBudget).toMatchObject({ statusCode: 429, code: 'token_quota_exceeded' });
    expect(slotsHeld(poor.ledger)).toBe(0);
    for (const setup of [busy, poor]) expect(setup.llm.requests).toHaveLength(0);
    expect(poor.store.runs.size).toBe(0);
    expect([...busy.jobs.enqueued, ...poor.jobs.enqueued]).toHaveLength(1);
  });

  it('an inline turn whose first call fails is on record as failed, with its slot and tokens given back', async () => {
    const setup = await chatSetup([{ error: new LlmUnavailableError('upstream 500') }], {
      quotas: { concurrent_runs: 1 },
    });
    const { deps, tenant, session, ledger, store } = setup;

    const failed = await sendMessage(deps, tenant, session.id, { content: 'hi' }).catch(
      (error: unknown) => error,
    );

    expect(failed).toBeInstanceOf(LlmUnavailableError);
    const [run] = [...store.runs.values()];
    expect(run?.status).toBe('failed');
    expect(store.messages.get(`${tenant.id}/${session.id}`)?.map((message) => message.role)).toEqual([
      'user',
    ]);
    expect(slotsHeld(ledger)).toBe(0);
    expect(tokenCounter(ledger)).toEqual({ used: 0, reserved: 0 });
  });

  it('a first step asking for more tool calls than one write holds fails the run, charging nothing', async () => {
    const calls = Array.from({ length: MAX_TOOL_CALLS_PER_STEP + 1 }, () => ({
      name: 'calculator',
      arguments: '{"expression":"1+1"}',
    }));
    const setup = await chatSetup([{ calls }], { quotas: { concurrent_runs: 1 } });
    const { deps, tenant, session, ledger, store, jobs } = setup;

    const failed = await sendMessage(deps, tenant, session.id, { content: 'hi' }).catch(
      (error: unknown) => error,
    );

    expect(failed).toMatchObject({ statusCode: 502, code: 'too_many_tool_calls' });
    const [run] = [...store.runs.values()];
    expect(run).toMatchObject({ status: 'failed', error: { code: 'too_many_tool_calls' } });
    expect(slotsHeld(ledger)).toBe(0);
    expect(tokenCounter(ledger)).toEqual({ used: 0, reserved: 0 });
    // Its recovery job, queued once before the run went on record, finds it failed.
    expect(jobs.enqueued).toHaveLength(1);
  });

  it('a first step whose write fails after its tools is on record, queued once for recovery and once to go on', async () => {
    const setup = await chatSetup(
      [{ calls: [{ name: 'calculator', arguments: '{"expression":"6*7"}' }] }, { text: '42.' }],
      { quotas: { concurrent_runs: 1 } },
    );
    const { deps, tenant, session, store, jobs } = setup;
    const append = store.appendMessages.bind(store);
    let failures = 1;
    store.appendMessages = async (request) => {
      if (failures-- > 0) throw new Error('the store is briefly unavailable');
      return append(request);
    };

    const answered = await sendMessage(deps, tenant, session.id, { content: 'What is 6*7?' });

    expect(answered.status).toBe(202);
    expect((await store.getRun(tenant.id, answered.result.run.id))?.status).toBe('in_progress');
    expect(jobs.delays).toEqual([expect.any(Number), undefined]);
  });

  it("a recovery job whose run was never written gives the run's slot back", async () => {
    const setup = await chatSetup([], { quotas: { concurrent_runs: 1 } });
    const { deps, tenant, session, ledger } = setup;
    const runId = deps.ids.newId('run');
    // An inline turn that died after queuing its recovery and renewing its slot, before its first write.
    await acquireRunSlot(deps, { tenantId: tenant.id, runId, limit: 1 });

    await runExecuteJob(
      () => deps,
      () => setup.tenants.store,
    ).run(runExecuteEnvelope(tenant.id, runId, session.id) as never, {
      logger: createLogger({}, { level: 'error' }),
      messageId: 'm',
      receiveCount: 1,
    });

    expect(slotsHeld(ledger)).toBe(0);
  });

  it('an inline turn handed off mid-call keeps its slot for the queued rest, with a run-long lease', async () => {
    const setup = await chatSetup([], {
      quotas: { concurrent_runs: 1 },
      timeouts: { syncDeadlineMs: 5_000 },
    });
    const { deps, tenant, session, ledger, clock } = setup;
    setup.llm.turns.push({ before: () => clock.advance(5_000), error: new LlmAbortedError() });

    const handedOff = await sendMessage(deps, tenant, session.id, { content: 'think hard' });

    expect(handedOff.status).toBe(202);
    const slots = slotHolds(ledger);
    expect(slots).toHaveLength(1);
    const now = Math.floor(clock.now().getTime() / 1000);
    expect((slots[0]?.expiresAt ?? 0) - now).toBe(RUN_SLOT_LEASE_SECONDS);
  });

  it('an inline turn out of time before its first step hands off with no LLM call, and the job finishes it once', async () => {
    // Less sync time than a step needs: the loop hands off before it calls the model at all.
    const setup = await chatSetup([{ text: 'answered by the worker' }], {
      quotas: { concurrent_runs: 1 },
      timeouts: { syncDeadlineMs: 500 },
    });
    const { deps, tenant, session, ledger, llm, jobs, store, clock } = setup;

    const handedOff = await sendMessage(deps, tenant, session.id, { content: 'no time at all' });
    const runId = handedOff.result.run.id;
    const callsInline = llm.requests.length;
    const slots = slotHolds(ledger);
    const tokensAfterHandOff = tokenCounter(ledger);
    const messagesAfterHandOff = store.messages.get(`${tenant.id}/${session.id}`)?.map((m) => m.role);
    const now = Math.floor(clock.now().getTime() / 1000);

    const outcome = await executeRun(deps, { tenant, runId });

    expect(handedOff.status).toBe(202);
    expect(callsInline).toBe(0);
    expect(messagesAfterHandOff).toEqual(['user']);
    expect(jobs.enqueued.map((job) => job.id)).toContain(runId);
    expect(slots).toHaveLength(1);
    expect((slots[0]?.expiresAt ?? 0) - now).toBe(RUN_SLOT_LEASE_SECONDS);
    expect(tokensAfterHandOff).toEqual({ used: 0, reserved: 0 });
    expect(outcome.status).toBe('completed');
    expect(store.messages.get(`${tenant.id}/${session.id}`)?.map((m) => m.role)).toEqual([
      'user',
      'assistant',
    ]);
    expect(tokenCounter(ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
    expect(slotsHeld(ledger)).toBe(0);
  });

  it('cancelling a run and failing one both give the slot back', async () => {
    const setup = await chatSetup([{ error: new LlmUnavailableError('upstream 500') }], {
      quotas: { concurrent_runs: 2 },
    });
    const { deps, tenant, session, ledger } = setup;
    const cancelled = await sendMessage(deps, tenant, session.id, { content: 'one', async: true });
    const failing = await sendMessage(deps, tenant, session.id, { content: 'two', async: true });
    const heldByBoth = slotsHeld(ledger);

    await cancelRun(deps, tenant.id, cancelled.result.run.id);
    const heldAfterCancel = slotsHeld(ledger);
    const outcome = await executeRun(deps, { tenant, runId: failing.result.run.id });

    expect(heldByBoth).toBe(2);
    expect(heldAfterCancel).toBe(1);
    expect(outcome.status).toBe('failed');
    expect(slotsHeld(ledger)).toBe(0);
  });

  it('a zero limit refuses every run without a write; null means unlimited and holds nothing', async () => {
    const none = await chatSetup([], { quotas: { concurrent_runs: 0 } });
    const unlimited = await chatSetup([], { quotas: { concurrent_runs: null } });

    const refused = await sendMessage(none.deps, none.tenant, none.session.id, {
      content: 'one',
      async: true,
    }).catch((error: unknown) => error);
    await sendMessage(unlimited.deps, unlimited.tenant, unlimited.session.id, { content: 'a', async: true });
    await sendMessage(unlimited.deps, unlimited.tenant, unlimited.session.id, { content: 'b', async: true });

    expect(refused).toMatchObject({ statusCode: 429, code: 'concurrent_runs_exceeded' });
    expect(none.store.runs.size).toBe(0);
    expect(unlimited.store.runs.size).toBe(2);
    expect(slotsHeld(unlimited.ledger)).toBe(0);
  });
});

describe('async runs check the token budget before anything is written', () => {
  it('an exhausted budget refuses an async message with 429: no run, no message, no job', async () => {
    const setup = await chatSetup([], { quotas: { tokens_per_month: 10 } });
    const { deps, tenant, session, store, jobs } = setup;

    const refused = await sendMessage(deps, tenant, session.id, { content: 'hello', async: true }).catch(
      (error: unknown) => error,
    );

    expect(refused).toMatchObject({ statusCode: 429, code: 'token_quota_exceeded' });
    expect(store.runs.size).toBe(0);
    expect(store.messages.get(`${tenant.id}/${session.id}`)).toEqual([]);
    expect(jobs.enqueued).toEqual([]);
  });

  it("the worker's first step finds the hold taken at enqueue time and settles it once", async () => {
    const setup = await chatSetup([{ text: 'queued answer' }]);
    const { deps, tenant, session, ledger } = setup;
    const queued = await sendMessage(deps, tenant, session.id, { content: 'hello', async: true });
    const heldAtEnqueue = tokenCounter(ledger).reserved;

    const outcome = await executeRun(deps, { tenant, runId: queued.result.run.id });

    expect(heldAtEnqueue).toBeGreaterThan(0);
    expect(outcome.status).toBe('completed');
    expect(tokenCounter(ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
  });
});
