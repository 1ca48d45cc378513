// e2e: chat on the whole local platform, with the official `openai` client pointed at our /v1 and a fake
// upstream that speaks OpenAI's wire protocol: completions, SSE, client-side tools, typed errors, upstream
// failures (500, a stall, a cut stream, the server gone), and session runs inline and through the queue.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../helpers/fake-openai-server';
import { type CallOptions, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { afterInvocations } from '../helpers/platform-events';

let platform: TestPlatform;
let fake: FakeOpenAiServer;

const call = (path: string, init: CallOptions = {}) => platform.call(path, init);

const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  call(path, { ...init, key: platform.adminKey });

const createTenant = (name: string, body: Record<string, unknown> = {}) => platform.createTenant(name, body);

const tokensOf = async (key: string) => (await call('/v1/usage', { key })).body.tokens_per_month;

beforeAll(async () => {
  fake = await startFakeOpenAiServer();
  platform = await startTestPlatform({
    functionEnvOverrides: {
      OPENAI_API_KEY: 'test',
      OPENAI_BASE_URL: fake.baseURL,
      // Short, so a stalled upstream call is given up (and retried) quickly.
      TENANTIC_LLM_TIMEOUT_MS: '3000',
    },
  });
});

afterAll(async () => {
  await platform?.stop();
  await fake?.close().catch(() => undefined); // the last test closes it on purpose
});

describe('the official openai client against /v1/chat/completions', () => {
  it('gets a plain completion with usage, charged to the tenant', async () => {
    const { openai, key } = await createTenant('plain-co');
    fake.enqueue({
      type: 'text',
      text: 'Hello from upstream.',
      usage: { prompt_tokens: 11, completion_tokens: 4 },
    });

    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 64,
    });

    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.choices[0]?.message.content).toBe('Hello from upstream.');
    expect(completion.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });
    expect(await tokensOf(key)).toMatchObject({ used: 15, reserved: 0 });
  });

  it('iterates stream: true with for await; the deltas add up to the scripted text', async () => {
    const { openai } = await createTenant('stream-co');
    fake.enqueue({ type: 'text', text: 'The quick brown fox jumps.' });

    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say it' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }

    expect(text).toBe('The quick brown fox jumps.');
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it('round-trips a client-side function tool: tool_calls back, the result sent, the final answer', async () => {
    const { openai } = await createTenant('tools-co');
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    fake.enqueue({
      type: 'tool_calls',
      calls: [{ id: 'call_weather', name: 'get_weather', arguments: '{"city":"Paris"}' }],
    });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];

    const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
    const call = first.choices[0]?.message.tool_calls?.[0];
    fake.enqueue({ type: 'text', text: 'It is sunny in Paris.' });
    messages.push(first.choices[0]?.message as OpenAI.ChatCompletionMessageParam, {
      role: 'tool',
      tool_call_id: call?.id ?? '',
      content: '{"sky":"sunny"}',
    });
    const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });

    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ id: 'call_weather', type: 'function', function: { name: 'get_weather' } });
    expect(second.choices[0]?.message.content).toBe('It is sunny in Paris.');
    const upstream = fake.chatRequests().at(-1)?.body?.messages as { role: string; tool_call_id?: string }[];
    expect(upstream.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_weather' });
  });

  it('raises the typed errors: BadRequestError, RateLimitError, AuthenticationError', async () => {
    const { openai, tenant, key } = await createTenant('errors-co');
    const patched = await admin(`/v1/tenants/${tenant.id}`, {
      method: 'PATCH',
      body: { quotas: { tokens_per_month: 100 } },
    });
    expect(patched.status).toBe(200);
    const before = fake.chatRequests().length;

    // Each awaited where it is made: a rejection left pending across another await counts as unhandled.
    await expect(
      openai.chat.completions.create({ model: 'gpt-9-ultra', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(
      openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 500,
      }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    const badKey = new OpenAI({
      apiKey: 'tk_dev_notarealkey',
      baseURL: `${platform.httpUrl}/v1`,
      maxRetries: 0,
    });

    await expect(
      badKey.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect(fake.chatRequests().length).toBe(before);
    expect(await tokensOf(key)).toMatchObject({ used: 0, reserved: 0 });
  });
});

describe('upstream failures', () => {
  it('retries a 500 and answers with the next attempt', async () => {
    const { openai } = await createTenant('retry-co');
    const before = fake.chatRequests().length;
    fake.enqueue({ type: 'error', status: 500, message: 'boom' }, { type: 'text', text: 'Recovered.' });

    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });

    expect(completion.choices[0]?.message.content).toBe('Recovered.');
    expect(fake.chatRequests().length - before).toBe(2);
  });

  it('gives up a stalled call at its timeout and answers from the retry', async () => {
    const { openai } = await createTenant('stall-co');
    const before = fake.chatRequests().length;
    fake.enqueue({ type: 'stall' }, { type: 'text', text: 'After the stall.' });

    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });

    expect(completion.choices[0]?.message.content).toBe('After the stall.');
    const attempts = fake.requests
      .slice(before)
      .filter((request) => request.path.endsWith('/chat/completions'));
    expect(attempts).toHaveLength(2);
  });

  it('retries a stream cut mid-token before any of it was relayed; the answer is whole and charged once', async () => {
    const { openai, key } = await createTenant('cut-co');
    const before = fake.chatRequests().length;
    fake.enqueue(
      { type: 'cut', text: 'one two three four five six', afterPieces: 3 },
      { type: 'text', text: 'A whole answer.' },
    );

    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let total = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      total += chunk.usage?.total_tokens ?? 0;
    }

    expect(text).toBe('A whole answer.');
    expect(fake.chatRequests().length - before).toBe(2);
    expect(await tokensOf(key)).toMatchObject({ used: total, reserved: 0 });
  });
});

describe('sessions and runs', () => {
  it('answers a message inline (200) after running a calculator call itself', async () => {
    const { key } = await createTenant('inline-co');
    const session = await call('/v1/sessions', { method: 'POST', key, body: { system_prompt: 'Be exact.' } });
    expect(session.status).toBe(201);
    fake.enqueue(
      {
        type: 'tool_calls',
        calls: [{ id: 'call_calc', name: 'calculator', arguments: '{"expression":"6*7"}' }],
      },
      { type: 'text', text: 'Six times seven is 42.' },
    );

    const sent = await call(`/v1/sessions/${session.body.id}/messages`, {
      method: 'POST',
      key,
      body: { content: 'What is 6*7?' },
    });

    expect(sent.status).toBe(200);
    expect(sent.body.message).toMatchObject({ role: 'assistant', content: 'Six times seven is 42.' });
    expect(sent.body.run).toMatchObject({ status: 'completed' });
    expect(sent.body.run.steps.map((step: { type: string }) => step.type)).toEqual([
      'tool_calls',
      'message_creation',
    ]);
    const messages = await call(`/v1/sessions/${session.body.id}/messages`, { key });
    const tool = messages.body.data.find((message: { role: string }) => message.role === 'tool');
    expect(JSON.parse(tool.content)).toMatchObject({ result: 42 });
    expect((await tokensOf(key)).used).toBe(sent.body.run.usage.total_tokens);
  });

  it('with async: true answers 202; the chat worker completes the run off the queue', async () => {
    const { key } = await createTenant('async-co');
    const session = await call('/v1/sessions', { method: 'POST', key, body: {} });
    fake.enqueue({ type: 'text', text: 'Answered by the worker.' });

    const sent = await call(`/v1/sessions/${session.body.id}/messages`, {
      method: 'POST',
      key,
      body: { content: 'Take your time', async: true },
    });
    const run = await afterInvocations(
      platform.platform.events,
      'chat-worker',
      async () => {
        const response = await call(`/v1/runs/${sent.body.run.id}`, { key });
        return ['completed', 'failed', 'cancelled'].includes(response.body?.status) ? response : undefined;
      },
      { timeoutMs: 60_000, what: 'the queued run to end' },
    );

    expect(sent.status).toBe(202);
    expect(sent.body.run.status).toBe('queued');
    expect(run.body.status).toBe('completed');
    const messages = await call(`/v1/sessions/${session.body.id}/messages?order=desc&limit=1`, { key });
    expect(messages.body.data[0]).toMatchObject({ role: 'assistant', content: 'Answered by the worker.' });
    expect(await tokensOf(key)).toMatchObject({ used: run.body.usage.total_tokens, reserved: 0 });
  });

  it('compacts a long session on the queue: the chat worker summarizes its older turns, and nothing is deleted', async () => {
    const { openai, key } = await createTenant('long-co');
    const session = await call('/v1/sessions', { method: 'POST', key, body: {} });
    const id = session.body.id as string;
    // 5 exchanges of 40 questions and an answer, appended through X-Session-Id: 205 messages.
    for (let batch = 0; batch < 5; batch += 1) {
      await openai.chat.completions.create(
        {
          model: 'gpt-4o-mini',
          messages: Array.from({ length: 40 }, (_, at) => ({
            role: 'user' as const,
            content: `Question ${batch * 40 + at}: what about the weather?`,
          })),
        },
        { headers: { 'X-Session-Id': id } },
      );
    }
    const before = (await tokensOf(key)).used;

    const sent = await call(`/v1/sessions/${id}/messages`, {
      method: 'POST',
      key,
      body: { content: 'And now?' },
    });
    // The summary is written by the chat worker, off the queue.
    const compacted = await afterInvocations(
      platform.platform.events,
      'chat-worker',
      async () => {
        const response = await call(`/v1/sessions/${id}`, { key });
        const { context } = response.body ?? {};
        return context?.strategy === 'summarized' && !context.compacting ? response : undefined;
      },
      { timeoutMs: 60_000, what: 'the session to be compacted' },
    );

    expect(sent.status).toBe(200);
    expect(compacted.body.context).toMatchObject({
      strategy: 'summarized',
      truncated_through: null,
      window_messages: 64,
      compacting: false,
    });
    expect(compacted.body.context.summarized_through).toMatch(/^msg_/);
    // The summary's tokens are the tenant's, beside the turn's.
    expect((await tokensOf(key)).used).toBeGreaterThan(before + sent.body.run.usage.total_tokens);
    // The model of the next turn sees the summary, not 200 messages.
    fake.reset();
    await call(`/v1/sessions/${id}/messages`, { method: 'POST', key, body: { content: 'Anything else?' } });
    const [request] = fake.chatRequests();
    const seen = (request?.body?.messages ?? []) as { role: string; content: string }[];
    expect(seen.length).toBeLessThanOrEqual(66);
    expect(seen.some((message) => message.content.startsWith('Summary of the earlier part'))).toBe(true);
    // Every message is still listed.
    let listed = 0;
    let after: string | undefined;
    do {
      const page = await call(`/v1/sessions/${id}/messages?limit=100${after ? `&after=${after}` : ''}`, {
        key,
      });
      listed += page.body.data.length;
      after = page.body.next_cursor;
    } while (after);
    expect(listed).toBe(209);
  });

  it("hides another tenant's session (404) and removes a deleted one", async () => {
    const owner = await createTenant('owner-co');
    const other = await createTenant('other-co');
    const session = await call('/v1/sessions', { method: 'POST', key: owner.key, body: {} });

    const foreignRead = await call(`/v1/sessions/${session.body.id}`, { key: other.key });
    const foreignSend = await call(`/v1/sessions/${session.body.id}/messages`, {
      method: 'POST',
      key: other.key,
      body: { content: 'hi' },
    });
    // Settled here: a rejection left pending across the awaits below would count as unhandled.
    const foreignHeader = await other.openai.chat.completions
      .create(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'X-Session-Id': session.body.id } },
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const deleted = await call(`/v1/sessions/${session.body.id}`, { method: 'DELETE', key: owner.key });
    const afterDelete = await call(`/v1/sessions/${session.body.id}`, { key: owner.key });

    expect(foreignRead.status).toBe(404);
    expect(foreignSend.status).toBe(404);
    expect(foreignHeader).toBeInstanceOf(OpenAI.NotFoundError);
    expect(deleted.status).toBe(200);
    expect(afterDelete.status).toBe(404);
  });
});

describe('with the upstream gone', () => {
  it('falls back to the rule-based provider and says so', async () => {
    const { openai } = await createTenant('fallback-co');
    await fake.close();

    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello!' }],
    });

    expect(completion.model).toBe('rule-based');
    expect((completion as unknown as { degraded: boolean }).degraded).toBe(true);
    expect(completion.choices[0]?.message.content).toMatch(/rule-based/);
  });
});
