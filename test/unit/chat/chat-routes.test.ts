// Unit: the chat routes through the real chat-api handler and middleware with a scripted LLM: send-message
// inline (200) or queued (202), cancel, chat completions in OpenAI's shape and SSE framing, and every bad
// input of the Chat issue: a 4xx, the LLM never called, and no charge left on the ledger.
import { describe, expect, it, vi } from 'vitest';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createChatApi } = await import('../../../functions/handlers/chat-api');
const { lambdaContext, loadEvent, memoryLogger } = await import('../../helpers/tenant-fakes');
const { chatSetup, tokenCounter, USAGE } = await import('./fakes');
const { runExecuteJob } = await import('../../../functions/core/chat/run-execute-job');
const { recoveryDelaySeconds } = await import('../../../functions/core/chat/send-message');
const { LlmAbortedError } = await import('../../../functions/core/llm/errors');
const { createLogger } = await import('../../../functions/observability/logger');

type Setup = Awaited<ReturnType<typeof chatSetup>>;
type Response = { statusCode: number; headers: Record<string, string>; body: string };

const api = (setup: Setup) => {
  const handler = createChatApi(
    { ...setup.deps, tenants: setup.tenants.store, ledger: setup.ledger, chat: () => setup.deps },
    { logger: memoryLogger().logger, maxBodyBytes: 256 * 1024 },
  );
  return async (event: Record<string, unknown>) => {
    const response = (await handler(event as never, lambdaContext())) as Response;
    const json = response.headers['Content-Type']?.startsWith('application/json');
    return { ...response, json: json ? JSON.parse(response.body) : undefined };
  };
};

const sendEvent = (sessionId: string, body: unknown) => {
  const event = loadEvent('chat-api', 'send-message');
  event.pathParameters.id = sessionId;
  event.rawPath = `/v1/sessions/${sessionId}/messages`;
  event.body = JSON.stringify(body);
  return event;
};
const completionEvent = (body: unknown, headers: Record<string, string> = {}) => {
  const event = loadEvent('chat-api', 'chat-completion');
  event.body = JSON.stringify(body);
  Object.assign(event.headers, headers);
  return event;
};
const cancelEvent = (runId: string) => {
  const event = loadEvent('chat-api', 'cancel-finished-run');
  event.pathParameters.id = runId;
  event.rawPath = `/v1/runs/${runId}/cancel`;
  return event;
};

describe('POST /v1/sessions/{id}/messages', () => {
  it('answers 200 with the message and the completed run when the run ends in time', async () => {
    const setup = await chatSetup([
      { calls: [{ name: 'calculator', arguments: '{"expression":"6*7"}' }] },
      { text: '6 * 7 = 42' },
    ]);

    const response = await api(setup)(sendEvent(setup.session.id, { content: 'What is 6*7?' }));

    expect(response.statusCode).toBe(200);
    expect(response.json.message).toMatchObject({ role: 'assistant', content: '6 * 7 = 42' });
    expect(response.json.run).toMatchObject({
      status: 'completed',
      usage: { total_tokens: 2 * USAGE.total_tokens },
    });
    expect(response.json.run.steps[0]).not.toHaveProperty('reservation');
    // The second step sees the whole turn: the question, the tool call and its result, in order.
    const second = setup.llm.requests[1]?.messages.map((message) => message.role);
    expect(second?.slice(-3)).toEqual(['user', 'assistant', 'tool']);
    expect(setup.llm.requests[1]?.messages.at(-3)?.content).toBe('What is 6*7?');
    // Only the recovery job, delayed past the function's own timeout (chat-api's is 29 s).
    expect(setup.jobs.enqueued.map((job) => job.id)).toEqual([response.json.run.id]);
    expect(setup.jobs.delays[0]).toBeGreaterThan(29);
  });

  it('a simple turn writes once, the run with both messages, and queues no job', async () => {
    const setup = await chatSetup([{ text: 'Hi.' }], { quotas: { concurrent_runs: 2 } });
    setup.store.calls.length = 0;
    setup.ledger.calls.length = 0;

    const response = await api(setup)(sendEvent(setup.session.id, { content: 'Hello' }));

    expect(response.statusCode).toBe(200);
    expect(setup.store.calls).toEqual(['readSessionWithHistory', 'appendMessages']);
    // The request's count with the token hold, and the run's slot, at once; then the step's charge.
    expect(setup.ledger.calls.slice(0, 2).sort()).toEqual(['hold', 'hold+count']);
    expect(setup.jobs.enqueued).toEqual([]);
    const run = await setup.store.getRun(setup.tenant.id, response.json.run.id);
    expect(run).toMatchObject({ status: 'completed', usage: { total_tokens: USAGE.total_tokens } });
    const history = await setup.store.listMessages(setup.tenant.id, setup.session.id, {
      limit: 10,
      order: 'asc',
    });
    expect(history.items.map((message) => [message.role, message.content, message.run_id])).toEqual([
      ['user', 'Hello', run?.id],
      ['assistant', 'Hi.', run?.id],
    ]);
    expect(tokenCounter(setup.ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
  });

  it('a turn whose invocation dies in its first call leaves nothing on record, and its holds lapse soon', async () => {
    const setup = await chatSetup([{ before: () => new Promise<void>(() => undefined), text: 'never' }], {
      quotas: { concurrent_runs: 1 },
    });
    // The invocation hangs in the model call for good: as far as the platform can tell, it died there.
    void api(setup)(sendEvent(setup.session.id, { content: 'Hello' }));
    await vi.waitFor(() => expect(setup.llm.requests).toHaveLength(1));

    expect(setup.store.runs.size).toBe(0);
    expect(setup.jobs.enqueued).toEqual([]);
    const now = Math.floor(setup.clock.now().getTime() / 1000);
    const holds = [...setup.ledger.counters.values()].flatMap((counter) => [...counter.holds.values()]);
    // The token hold and the run's slot: both lapse once chat-api's own timeout has surely passed.
    expect(holds).toHaveLength(2);
    for (const hold of holds) {
      expect(hold.expiresAt - now).toBeGreaterThan(29);
      expect(hold.expiresAt - now).toBeLessThanOrEqual(recoveryDelaySeconds(setup.deps.timeouts));
    }

    // Once they lapse, the tenant's one slot is free for the retried turn.
    setup.clock.advance(recoveryDelaySeconds(setup.deps.timeouts) * 1000);
    setup.llm.turns.push({ text: 'Hi.' });
    const retried = await api(setup)(sendEvent(setup.session.id, { content: 'Hello' }));
    expect(retried.statusCode).toBe(200);
    // Charged once; the lapsed token hold awaits its lazy reclaim (usage reports already leave it out).
    expect(tokenCounter(setup.ledger).used).toBe(USAGE.total_tokens);
  });

  it('the recovery job completes a run whose invocation died after its first step, charging each step once', async () => {
    const setup = await chatSetup([
      { calls: [{ name: 'calculator', arguments: '{"expression":"6*7"}' }] },
      { before: () => new Promise<void>(() => undefined), text: 'never' },
    ]);
    void api(setup)(sendEvent(setup.session.id, { content: 'What is 6*7?' }));
    await vi.waitFor(() => expect(setup.llm.requests).toHaveLength(2));
    // The first step called a tool, so its write left the run unfinished: its recovery job came first.
    const [recovery] = setup.jobs.enqueued;
    const runId = recovery?.id as string;
    expect(setup.jobs.delays).toEqual([recoveryDelaySeconds(setup.deps.timeouts)]);
    expect((await setup.store.getRun(setup.tenant.id, runId))?.status).toBe('in_progress');
    setup.llm.turns.push({ text: 'Recovered: 42.' });

    await runExecuteJob(
      () => setup.deps,
      () => setup.tenants.store,
    ).run(recovery as never, {
      logger: createLogger({}, { level: 'error' }),
      messageId: 'm',
      receiveCount: 1,
    });

    const run = await setup.store.getRun(setup.tenant.id, runId);
    expect(run?.status).toBe('completed');
    expect(run?.steps).toHaveLength(2);
    const history = await setup.store.listMessages(setup.tenant.id, setup.session.id, {
      limit: 10,
      order: 'asc',
    });
    expect(history.items.map((message) => message.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(JSON.parse(history.items[2]?.content as string)).toMatchObject({ result: 42 });
    expect(history.items[3]?.content).toBe('Recovered: 42.');
    expect(tokenCounter(setup.ledger)).toEqual({ used: run?.usage.total_tokens, reserved: 0 });
  });

  it('the recovery job of a run that finished inline does nothing', async () => {
    const setup = await chatSetup([
      { calls: [{ name: 'calculator', arguments: '{"expression":"6*7"}' }] },
      { text: '42.' },
    ]);
    const response = await api(setup)(sendEvent(setup.session.id, { content: 'What is 6*7?' }));
    const before = tokenCounter(setup.ledger);
    const calls = setup.llm.requests.length;

    await runExecuteJob(
      () => setup.deps,
      () => setup.tenants.store,
    ).run(setup.jobs.enqueued[0] as never, {
      logger: createLogger({}, { level: 'error' }),
      messageId: 'm',
      receiveCount: 1,
    });

    expect(response.statusCode).toBe(200);
    expect(setup.llm.requests).toHaveLength(calls);
    expect(tokenCounter(setup.ledger)).toEqual(before);
    const history = await setup.store.listMessages(setup.tenant.id, setup.session.id, {
      limit: 10,
      order: 'asc',
    });
    expect(history.items).toHaveLength(4);
    expect((await setup.store.getRun(setup.tenant.id, response.json.run.id))?.status).toBe('completed');
  });

  it('with async: true answers 202 and queues run.execute; the worker job then completes the run', async () => {
    const setup = await chatSetup([{ text: 'Later.' }]);

    const response = await api(setup)(sendEvent(setup.session.id, { content: 'Hello', async: true }));

    expect(response.statusCode).toBe(202);
    expect(response.json.run.status).toBe('queued');
    expect(setup.llm.requests).toHaveLength(0);
    const [envelope] = setup.jobs.enqueued;
    expect(envelope).toMatchObject({
      type: 'run.execute',
      id: response.json.run.id,
      tenant_id: setup.tenant.id,
    });
    await runExecuteJob(
      () => setup.deps,
      () => setup.tenants.store,
    ).run(envelope as never, {
      logger: createLogger({}, { level: 'error' }),
      messageId: 'm',
      receiveCount: 1,
    });
    expect((await setup.store.getRun(setup.tenant.id, response.json.run.id))?.status).toBe('completed');
  });

  it('hands the run to the queue (202) when the sync deadline passes mid-call, with nothing charged', async () => {
    const setup = await chatSetup([], { timeouts: { syncDeadlineMs: 5_000 } });
    setup.llm.turns.push({
      before: () => setup.clock.advance(5_000),
      error: new LlmAbortedError(),
    });

    const response = await api(setup)(sendEvent(setup.session.id, { content: 'Think hard' }));

    expect(response.statusCode).toBe(202);
    expect(response.json.run.status).toBe('in_progress');
    // The delayed recovery job, then the hand-off's own job at once.
    expect(setup.jobs.enqueued.map((job) => job.id)).toEqual([response.json.run.id, response.json.run.id]);
    expect(setup.jobs.delays).toEqual([expect.any(Number), undefined]);
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
  });
});

describe("the key re-check runs beside the turn's first read", () => {
  it('reads the session while the key is re-checked, and uses that read', async () => {
    const setup = await chatSetup([{ text: 'Hi there' }]);
    // The key check waits until the session has been read: it would never finish if the two ran in turn.
    let sessionRead = () => {};
    const read = new Promise<void>((resolve) => {
      sessionRead = resolve;
    });
    const readSession = setup.store.readSessionWithHistory.bind(setup.store);
    setup.store.readSessionWithHistory = async (...args) => {
      sessionRead();
      return readSession(...args);
    };
    const checkKey = setup.tenants.store.getApiKeyWithTenant.bind(setup.tenants.store);
    setup.tenants.store.getApiKeyWithTenant = async (...args) => {
      await read;
      return checkKey(...args);
    };
    setup.store.calls.length = 0;

    const response = await api(setup)(sendEvent(setup.session.id, { content: 'Hello' }));

    expect(response.statusCode).toBe(200);
    expect(response.json.message).toMatchObject({ content: 'Hi there' });
    // One read of the session for the whole turn: the prefetched one.
    expect(setup.store.calls.filter((call) => call === 'readSessionWithHistory')).toHaveLength(1);
  });

  it('a revoked key gets 401 and nothing is written, though its session was read', async () => {
    const setup = await chatSetup([{ text: 'never' }]);
    await setup.tenants.store.revokeApiKey(setup.sample.tenantId, setup.sample.keyId, 1);
    const runsBefore = setup.store.runs.size;

    const response = await api(setup)(sendEvent(setup.session.id, { content: 'Hello' }));

    expect(response.statusCode).toBe(401);
    expect(response.json.error).toMatchObject({ type: 'authentication_error' });
    expect(setup.llm.requests).toHaveLength(0);
    expect(setup.store.runs.size).toBe(runsBefore);
    expect(setup.jobs.enqueued).toEqual([]);
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
  });

  it('an unknown session is a 404 after one read: the prefetched one', async () => {
    const setup = await chatSetup([{ text: 'never' }]);
    setup.store.calls.length = 0;

    const response = await api(setup)(sendEvent(setup.deps.ids.newId('ses'), { content: 'Hello' }));

    expect(response.statusCode).toBe(404);
    expect(response.json.error).toMatchObject({ code: 'session_not_found' });
    expect(setup.store.calls).toEqual(['readSessionWithHistory']);
    expect(setup.llm.requests).toHaveLength(0);
  });

  it('a session id that is no id is refused by validation (404, as any unknown session), never read', async () => {
    const setup = await chatSetup([{ text: 'never' }]);
    setup.store.calls.length = 0;

    const response = await api(setup)(sendEvent('not-a-session', { content: 'Hello' }));

    expect(response.statusCode).toBe(404);
    expect(setup.store.calls).toEqual([]);
  });
});

describe('POST /v1/runs/{id}/cancel', () => {
  it('cancels a queued run, and refuses (409) to cancel it again', async () => {
    const setup = await chatSetup();
    const call = api(setup);
    const queued = await call(sendEvent(setup.session.id, { content: 'Hello', async: true }));

    const cancelled = await call(cancelEvent(queued.json.run.id));
    const again = await call(cancelEvent(queued.json.run.id));

    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json).toMatchObject({ id: queued.json.run.id, status: 'cancelled' });
    expect(again.statusCode).toBe(409);
    expect(again.json.error.code).toBe('run_not_cancellable');
  });

  it('answers 404 for an unknown run', async () => {
    const setup = await chatSetup();

    const response = await api(setup)(cancelEvent(setup.deps.ids.newId('run')));

    expect(response.statusCode).toBe(404);
    expect(response.json.error.code).toBe('run_not_found');
  });
});

describe('POST /v1/chat/completions', () => {
  it("answers in OpenAI's shape, returning client-side tool calls instead of running them", async () => {
    const setup = await chatSetup([
      { calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}', id: 'call_w' }], usage: USAGE },
    ]);
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];

    const response = await api(setup)(
      completionEvent({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Weather?' }],
        tools,
        max_tokens: 50,
      }),
    );

    expect(response.statusCode).toBe(200);
    expect(response.json).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_w', type: 'function', function: { name: 'get_weather' } }],
          },
        },
      ],
      usage: USAGE,
    });
    expect(response.json.id).toMatch(/^chatcmpl-/);
    expect(setup.llm.requests[0]).toMatchObject({ max_tokens: 50, user: setup.tenant.id });
    expect(tokenCounter(setup.ledger)).toEqual({ used: USAGE.total_tokens, reserved: 0 });
    expect(Number(response.headers['x-ratelimit-remaining-tokens'])).toBe(100_000 - USAGE.total_tokens);
  });

  it("runs a request that names no model on the tenant's default model", async () => {
    const setup = await chatSetup([{ text: 'Hi.', usage: USAGE }], { defaultModel: 'gpt-4o' });

    const response = await api(setup)(completionEvent({ messages: [{ role: 'user', content: 'Hello' }] }));

    expect(response.statusCode).toBe(200);
    expect(setup.llm.requests.map((request) => request.model)).toEqual(['gpt-4o']);
    expect(response.json.model).toBe('gpt-4o');
  });

  it('frames stream: true as SSE chunks whose deltas add up to the answer, then usage and [DONE]', async () => {
    const setup = await chatSetup([{ text: 'Streaming is buffered here.' }]);

    const response = await api(setup)(
      completionEvent({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );

    expect(response.statusCode).toBe(200);
    expect(response.headers['Content-Type']).toMatch(/^text\/event-stream/);
    const events = response.body.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.slice('data: '.length)));
    const text = chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Streaming is buffered here.');
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: USAGE });
  });

  it('appends the exchange to the session named by X-Session-Id', async () => {
    const setup = await chatSetup([{ text: 'Noted.' }]);

    const response = await api(setup)(
      completionEvent(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Remember 7' }] },
        { 'x-session-id': setup.session.id },
      ),
    );

    expect(response.statusCode).toBe(200);
    const messages = await setup.store.listMessages(setup.tenant.id, setup.session.id, {
      limit: 10,
      order: 'asc',
    });
    expect(messages.items.map((message) => [message.role, message.content])).toEqual([
      ['user', 'Remember 7'],
      ['assistant', 'Noted.'],
    ]);
  });
});

describe('bad input: a 4xx, no LLM call, nothing charged', () => {
  const messages = [{ role: 'user', content: 'Hello' }];
  const cases: {
    name: string;
    setup?: Parameters<typeof chatSetup>[1];
    event: (setup: Setup) => Record<string, unknown>;
    status: number;
    code: string;
  }[] = [
    {
      name: 'an unknown model',
      event: () => completionEvent({ model: 'gpt-9-ultra', messages }),
      status: 400,
      code: 'model_not_found',
    },
    {
      name: 'a model the tenant may not use',
      setup: { models: ['gpt-4o-mini'] },
      event: () => completionEvent({ model: 'gpt-4o', messages }),
      status: 400,
      code: 'model_not_allowed',
    },
    {
      name: "max_tokens above the model's limit",
      event: () => completionEvent({ model: 'gpt-4o-mini', messages, max_tokens: 1_000_000 }),
      status: 400,
      code: 'max_tokens_too_large',
    },
    {
      name: 'malformed tools',
      event: () =>
        completionEvent({
          model: 'gpt-4o-mini',
          messages,
          tools: [{ type: 'function', function: { name: 'bad name!' } }],
        }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'a tool_choice naming no given tool',
      event: () =>
        completionEvent({
          model: 'gpt-4o-mini',
          messages,
          tools: [{ type: 'function', function: { name: 'lookup' } }],
          tool_choice: { type: 'function', function: { name: 'other' } },
        }),
      status: 400,
      code: 'invalid_tool_choice',
    },
    {
      name: 'n other than 1',
      event: () => completionEvent({ model: 'gpt-4o-mini', messages, n: 2 }),
      status: 400,
      code: 'unsupported_parameter',
    },
    {
      name: 'an unknown session in X-Session-Id',
      event: (setup) =>
        completionEvent({ model: 'gpt-4o-mini', messages }, { 'x-session-id': setup.deps.ids.newId('ses') }),
      status: 404,
      code: 'session_not_found',
    },
    {
      name: 'a token budget too small for the call',
      setup: { quotas: { tokens_per_month: 50 } },
      event: () => completionEvent({ model: 'gpt-4o-mini', messages, max_tokens: 100 }),
      status: 429,
      code: 'token_quota_exceeded',
    },
    {
      name: 'an empty message',
      event: (setup) => sendEvent(setup.session.id, { content: '' }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'an oversized message',
      event: (setup) => sendEvent(setup.session.id, { content: 'x'.repeat(40_000) }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'a message to an unknown session',
      event: (setup) => sendEvent(setup.deps.ids.newId('ses'), { content: 'Hello' }),
      status: 404,
      code: 'session_not_found',
    },
    {
      name: 'a message to a session when the token budget is spent',
      setup: { quotas: { tokens_per_month: 10 } },
      event: (setup) => sendEvent(setup.session.id, { content: 'Hello' }),
      status: 429,
      code: 'token_quota_exceeded',
    },
  ];

  for (const testCase of cases) {
    it(testCase.name, async () => {
      const setup = await chatSetup([{ text: 'never sent' }], testCase.setup);

      const response = await api(setup)(testCase.event(setup));

      expect(response.statusCode).toBe(testCase.status);
      expect(response.json.error.code).toBe(testCase.code);
      expect(setup.llm.requests).toHaveLength(0);
      expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
      // Nothing else left behind either: no run, no message, no job.
      expect(setup.store.runs.size).toBe(0);
      const history = await setup.store.listMessages(setup.tenant.id, setup.session.id, {
        limit: 10,
        order: 'asc',
      });
      expect(history.items).toEqual([]);
      expect(setup.jobs.enqueued).toEqual([]);
    });
  }

  it('a session created with a tool the tenant may not use', async () => {
    const setup = await chatSetup();
    const stored = setup.tenants.store.tenants.get(setup.tenant.id);
    if (stored) stored.tools = ['current_time'];
    const event = loadEvent('chat-api', 'create-session');
    event.body = JSON.stringify({ tools: ['calculator'] });

    const response = await api(setup)(event);

    expect(response.statusCode).toBe(400);
    expect(response.json.error).toMatchObject({ code: 'tool_not_allowed', param: 'tools[0]' });
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
  });
});

describe('metered admission: the request is counted by its token hold', () => {
  it('a chat completion is counted and held in one ledger write, with both x-ratelimit header sets', async () => {
    const setup = await chatSetup([{ text: 'Hi.', usage: USAGE }], { quotas: { requests_per_minute: 5 } });

    const response = await api(setup)(
      completionEvent({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }),
    );

    expect(response.statusCode).toBe(200);
    expect(setup.ledger.calls).toEqual(['hold+count', 'settle']);
    expect(response.headers['x-ratelimit-remaining-requests']).toBe('4');
    expect(response.headers['x-ratelimit-remaining-tokens']).toBeDefined();
  });

  it('a request refused before any hold (an unknown session) is still counted once', async () => {
    const setup = await chatSetup([], { quotas: { requests_per_minute: 5 } });

    const response = await api(setup)(sendEvent('ses_01m7yq1we0bh6ky4emv0srek28', { content: 'Hi' }));

    expect(response.statusCode).toBe(404);
    expect(setup.ledger.calls).toEqual(['count']);
    expect(response.headers['x-ratelimit-remaining-requests']).toBe('4');
  });

  it('a full minute refuses the turn with 429 before anything is written or the model is called', async () => {
    const setup = await chatSetup([{ text: 'never' }], { quotas: { requests_per_minute: 1 } });
    const send = api(setup);
    await send(sendEvent(setup.session.id, { content: 'first' }));
    const runsBefore = setup.store.runs.size;
    setup.llm.turns.push({ text: 'never either' });

    const refused = await send(sendEvent(setup.session.id, { content: 'second' }));

    expect(refused.statusCode).toBe(429);
    expect(refused.json.error.code).toBe('rate_limit_exceeded');
    expect(refused.headers['Retry-After']).toBeDefined();
    expect(setup.store.runs.size).toBe(runsBefore);
    expect(setup.llm.requests).toHaveLength(1);
    expect(tokenCounter(setup.ledger).reserved).toBe(0);
  });
});
