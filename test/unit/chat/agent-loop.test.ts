// Unit: the agent loop with a scripted LLM: tool calls (parallel too), tool errors as tool messages,
// the step and time limits, cancellation, and redelivery that never completes, appends or charges twice.
import { describe, expect, it } from 'vitest';
import { executeRun } from '../../../functions/core/chat/execute-run';
import { runExecuteEnvelope, runExecuteJob } from '../../../functions/core/chat/run-execute-job';
import { createLogger } from '../../../functions/observability/logger';
import { chatSetup, tokenCounter, USAGE } from './fakes';

type Setup = Awaited<ReturnType<typeof chatSetup>>;

/** A queued run with the user's message, as send-message leaves it. */
const queueRun = async (setup: Setup, content = 'What is 6*7?') => {
  const { deps, session, tenant } = setup;
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const runId = deps.ids.newId('run');
  await deps.store.createRun({
    id: runId,
    tenant_id: tenant.id,
    session_id: session.id,
    status: 'queued',
    model: session.model,
    steps: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    error: null,
    created_at: now,
    updated_at: now,
    started_at: null,
    completed_at: null,
  });
  const last = (await deps.store.getSession(tenant.id, session.id))?.last_message_id ?? null;
  await deps.store.appendMessages({
    tenantId: tenant.id,
    sessionId: session.id,
    appendId: `${runId}:user`,
    expectedLastMessageId: last,
    messages: [
      {
        id: deps.ids.newId('msg'),
        tenant_id: tenant.id,
        session_id: session.id,
        role: 'user',
        content,
        run_id: runId,
        created_at: now,
      },
    ],
    updatedAt: now,
  });
  return runId;
};

const messagesOf = async (setup: Setup) =>
  (await setup.store.listMessages(setup.tenant.id, setup.session.id, { limit: 100, order: 'asc' })).items;

describe('executeRun', () => {
  it('completes a plain answer: one assistant message, usage on the run, charged exactly once', async () => {
    const setup = await chatSetup([{ text: 'Hello there.' }]);
    const runId = await queueRun(setup, 'Hi');

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('completed');
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.status).toBe('completed');
    expect(run?.usage).toEqual(USAGE);
    expect((await messagesOf(setup)).map((message) => [message.role, message.content])).toEqual([
      ['user', 'Hi'],
      ['assistant', 'Hello there.'],
    ]);
    expect(tokenCounter(setup.ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
    const sent = setup.llm.requests[0];
    expect(sent?.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(sent?.tools?.map((tool) => tool.function.name)).toEqual(['calculator', 'current_time']);
  });

  it('runs a calculator call through the registry and hands the result to the next step', async () => {
    const setup = await chatSetup([
      { calls: [{ name: 'calculator', arguments: '{"expression":"6*7"}', id: 'call_calc' }] },
      { text: 'It is 42.' },
    ]);
    const runId = await queueRun(setup);

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('completed');
    const toolMessage = (await messagesOf(setup)).find((message) => message.role === 'tool');
    expect(toolMessage?.tool_call_id).toBe('call_calc');
    expect(JSON.parse(toolMessage?.content ?? '{}')).toMatchObject({ result: 42 });
    expect(setup.llm.requests[1]?.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_calc' });
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.steps.map((step) => step.type)).toEqual(['tool_calls', 'message_creation']);
    expect(run?.usage.total_tokens).toBe(2 * USAGE.total_tokens);
    expect(tokenCounter(setup.ledger)).toEqual({ used: 2 * USAGE.total_tokens, reserved: 0 });
  });

  it('answers parallel calls each with its own tool message, in the order of the calls', async () => {
    const setup = await chatSetup([
      {
        calls: [
          { name: 'current_time', arguments: '{"timezone":"UTC"}', id: 'call_time' },
          { name: 'calculator', arguments: '{"expression":"2^10"}', id: 'call_pow' },
        ],
      },
      { text: 'Done.' },
    ]);
    const runId = await queueRun(setup);

    await executeRun(setup.deps, { tenant: setup.tenant, runId });

    const tools = (await messagesOf(setup)).filter((message) => message.role === 'tool');
    expect(tools.map((message) => message.tool_call_id)).toEqual(['call_time', 'call_pow']);
    expect(JSON.parse(tools[1]?.content ?? '{}')).toMatchObject({ result: 1024 });
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.steps[0]?.tool_call_ids).toEqual(['call_time', 'call_pow']);
  });

  it('turns tool failures into tool messages the model reads, not a failed run', async () => {
    const setup = await chatSetup([
      {
        calls: [
          { name: 'calculator', arguments: '{"expression":"1/0"}', id: 'c_zero' },
          { name: 'calculator', arguments: 'not json', id: 'c_bad' },
          { name: 'delete_everything', arguments: '{}', id: 'c_unknown' },
        ],
      },
      { text: 'Sorry, I could not compute that.' },
    ]);
    const runId = await queueRun(setup);

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('completed');
    const errors = (await messagesOf(setup))
      .filter((message) => message.role === 'tool')
      .map((message) => JSON.parse(message.content ?? '{}').error?.code);
    expect(errors).toEqual(['tool_error', 'invalid_tool_arguments', 'tool_not_available']);
  });

  it("stops at the tenant's max_steps_per_run: the last step offers no tools, a run still calling fails", async () => {
    const calling = { calls: [{ name: 'calculator', arguments: '{"expression":"1+1"}' }] };
    const setup = await chatSetup([calling, calling, calling], { quotas: { max_steps_per_run: 2 } });
    const runId = await queueRun(setup);

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('failed');
    expect(setup.llm.requests).toHaveLength(2);
    expect(setup.llm.requests[1]?.tool_choice).toBe('none');
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.error?.code).toBe('max_steps_exceeded');
    expect(run?.steps).toHaveLength(2);
    expect(tokenCounter(setup.ledger)).toEqual({ used: run?.usage.total_tokens, reserved: 0 });
  });

  it('fails a run that outlives its time budget, keeping the steps it took', async () => {
    const setup = await chatSetup([], { timeouts: { runBudgetMs: 100_000 } });
    const slowCall = {
      calls: [{ name: 'calculator', arguments: '{"expression":"1+1"}' }],
      before: () => setup.clock.advance(60_000),
    };
    setup.llm.turns.push(slowCall, slowCall, slowCall);
    const runId = await queueRun(setup);

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('failed');
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.error?.code).toBe('run_time_budget_exceeded');
    expect(run?.steps).toHaveLength(2);
    expect(tokenCounter(setup.ledger)).toEqual({ used: 2 * USAGE.total_tokens, reserved: 0 });
  });

  it('stops when the run is cancelled during a step; the tokens that step spent are charged', async () => {
    const setup = await chatSetup();
    const runId = await queueRun(setup);
    setup.llm.turns.push({
      calls: [{ name: 'calculator', arguments: '{"expression":"1+1"}' }],
      before: async () => {
        await setup.store.transitionRun(setup.tenant.id, runId, ['in_progress'], {
          status: 'cancelled',
          updated_at: 1,
        });
      },
    });

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('cancelled');
    expect(setup.llm.requests).toHaveLength(1);
    // The step is on the cancelled run with its usage, as charged: used equals what the run reports.
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.status).toBe('cancelled');
    expect(run?.steps.map((step) => step.type)).toEqual(['tool_calls']);
    expect(run?.usage.total_tokens).toBe(USAGE.total_tokens);
    expect(tokenCounter(setup.ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
    const history = await setup.store.listMessages(setup.tenant.id, setup.session.id, {
      limit: 10,
      order: 'asc',
    });
    expect(history.items.map((message) => message.role)).toEqual(['user', 'assistant', 'tool']);
  });

  it('releases the reservation and fails the run when the model fails', async () => {
    const { LlmUnavailableError } = await import('../../../functions/core/llm/errors');
    const setup = await chatSetup([{ error: new LlmUnavailableError('upstream 500') }]);
    const runId = await queueRun(setup);

    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('failed');
    expect((await setup.store.getRun(setup.tenant.id, runId))?.error?.code).toBe('llm_unavailable');
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
  });
});

describe('redelivery', () => {
  const job = runExecuteJob;
  const context = { logger: createLogger({}, { level: 'error' }), messageId: 'm1', receiveCount: 1 };

  it('the same job twice: one completion, one assistant message, one charge, one LLM call', async () => {
    const setup = await chatSetup([{ text: 'Once.' }]);
    const runId = await queueRun(setup);
    const definition = job(
      () => setup.deps,
      () => setup.tenants.store,
    );
    const envelope = runExecuteEnvelope(setup.tenant.id, runId, setup.session.id);

    await definition.run(envelope, context);
    await definition.run(envelope, { ...context, receiveCount: 2 });

    expect(setup.llm.requests).toHaveLength(1);
    expect((await messagesOf(setup)).filter((message) => message.role === 'assistant')).toHaveLength(1);
    expect(tokenCounter(setup.ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
    expect((await setup.store.getRun(setup.tenant.id, runId))?.status).toBe('completed');
  });

  it('a crash after the append but before the step is recorded: the retry appends nothing and charges once', async () => {
    const setup = await chatSetup([{ text: 'First try.' }, { text: 'Second try.' }]);
    const runId = await queueRun(setup);
    const transition = setup.store.transitionRun.bind(setup.store);
    let crashes = 1;
    setup.store.transitionRun = async (...args) => {
      if (args[3].status === 'completed' && crashes-- > 0) throw new Error('lambda died');
      return transition(...args);
    };

    await expect(executeRun(setup.deps, { tenant: setup.tenant, runId })).rejects.toThrow('lambda died');
    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('completed');
    const assistants = (await messagesOf(setup)).filter((message) => message.role === 'assistant');
    expect(assistants.map((message) => message.content)).toEqual(['First try.']);
    expect(tokenCounter(setup.ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
  });

  it('a crash after the step is recorded but before the settle: the resumed run settles it once', async () => {
    const setup = await chatSetup([
      { calls: [{ name: 'calculator', arguments: '{"expression":"2+2"}' }] },
      { text: '4' },
    ]);
    const runId = await queueRun(setup);
    const settle = setup.ledger.settle.bind(setup.ledger);
    let crashes = 1;
    setup.ledger.settle = async (...args) => {
      if (crashes-- > 0) throw new Error('lambda died');
      return settle(...args);
    };

    await expect(executeRun(setup.deps, { tenant: setup.tenant, runId })).rejects.toThrow('lambda died');
    expect(tokenCounter(setup.ledger).reserved).toBeGreaterThan(0);
    const outcome = await executeRun(setup.deps, { tenant: setup.tenant, runId });

    expect(outcome.status).toBe('completed');
    expect(setup.llm.requests).toHaveLength(2);
    expect(tokenCounter(setup.ledger)).toEqual({ used: 2 * USAGE.total_tokens, reserved: 0 });
    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.usage.total_tokens).toBe(2 * USAGE.total_tokens);
  });
});
