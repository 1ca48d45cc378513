// The real `openai` client, through OpenAiLlmClient and the resilience decorators, against a local server
// that speaks OpenAI's wire protocol. No emulators: this file needs nothing from the global setup.
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAiConnector } from '../../functions/adapters/openai/openai-connector';
import { OpenAiLlmClient } from '../../functions/adapters/openai/openai-llm-client';
import { ModelCatalogue, type ProviderCatalogue } from '../../functions/core/llm/catalogue';
import { CircuitBreakerRegistry } from '../../functions/core/llm/circuit-breaker';
import { collectStream } from '../../functions/core/llm/deltas';
import {
  LlmAbortedError,
  LlmRateLimitedError,
  LlmTimeoutError,
  LlmUnavailableError,
} from '../../functions/core/llm/errors';
import { ProviderRoutingLlmClient } from '../../functions/core/llm/provider-router';
import { RetryingLlmClient, type RetryOptions } from '../../functions/core/llm/retrying-llm-client';
import { RULE_BASED_PROVIDER } from '../../functions/core/llm/rule-based-provider';
import { REAL_TIMING, realSleep, type Timing } from '../../functions/core/llm/timing';
import type { ChatDelta, ChatMessage, ChatRequest } from '../../functions/core/llm/types';
import { createBuiltinToolRegistry } from '../../functions/core/tools/builtin';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../helpers/fake-openai-server';

const tools = createBuiltinToolRegistry();
const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  ...extra,
});
const clientFor = (server: FakeOpenAiServer, apiKey = 'sk-test') =>
  new OpenAI({ apiKey, baseURL: server.baseURL, maxRetries: 0 });
const LIMITS = { contextTokens: 128_000, maxOutputTokens: 16_000 };
const ONE_MODEL: ProviderCatalogue = { openai: { models: { 'gpt-4o-mini': LIMITS } } };

/** The production LLM client (router, breakers, retries, rule-based fallback) on the SDK against `baseURL`. */
const routedTo = (
  baseURL: string,
  options: { retry?: RetryOptions; breakers?: CircuitBreakerRegistry; catalogue?: ProviderCatalogue } = {},
) =>
  new ProviderRoutingLlmClient({
    catalogue: new ModelCatalogue(options.catalogue ?? ONE_MODEL),
    breakers: options.breakers ?? new CircuitBreakerRegistry(),
    ...(options.retry && { retry: options.retry }),
    connect: openAiConnector({ resolve: async () => ({ apiKey: 'sk-test', baseURL }) }),
  });
const textOf = (deltas: ChatDelta[]) => deltas.map((d) => (d.type === 'text' ? d.text : '')).join('');

/** Real waits, recorded, so a test can check what was waited without asserting on elapsed time. */
const recordingTiming = () => {
  const sleeps: number[] = [];
  const timing: Timing = {
    ...REAL_TIMING,
    sleep: (ms, signal) => {
      sleeps.push(ms);
      return realSleep(ms, signal);
    },
  };
  return { timing, sleeps };
};

const eventually = async (check: () => boolean, tries = 100) => {
  for (let i = 0; i < tries && !check(); i += 1) await realSleep(20);
  return check();
};

let server: FakeOpenAiServer;
let llm: OpenAiLlmClient;

beforeAll(async () => {
  server = await startFakeOpenAiServer({ apiKey: 'sk-test' });
  llm = new OpenAiLlmClient(clientFor(server), { provider: 'openai' });
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe('OpenAiLlmClient against the OpenAI wire protocol', () => {
  it('lists models through the same server (the real client parses GET /v1/models)', async () => {
    const page = await clientFor(server).models.list();
    expect(page.data.map((model) => model.id)).toEqual(['gpt-4o-mini', 'gpt-4o']);
  });

  it('completes a plain chat, reporting provider, model and the usage the server sent', async () => {
    server.enqueue({
      type: 'text',
      text: 'Paris is the capital of France.',
      usage: { prompt_tokens: 11, completion_tokens: 7 },
    });

    const answer = await llm.complete(ask('Capital of France?', { max_tokens: 50, temperature: 0 }));

    expect(answer).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini',
      degraded: false,
      finish_reason: 'stop',
      message: { role: 'assistant', content: 'Paris is the capital of France.' },
      usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
    });
    const [sent] = server.chatRequests();
    expect(sent?.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 50, temperature: 0 });
    expect(sent?.body?.stream).toBeFalsy();
    expect(sent?.headers['x-stainless-retry-count']).toBe('0');
  });

  it('streams text deltas with for await, ending with usage from the final chunk', async () => {
    server.enqueue({
      type: 'text',
      text: 'one two three four five',
      usage: { prompt_tokens: 9, completion_tokens: 5 },
    });

    const deltas: ChatDelta[] = [];
    for await (const delta of llm.stream(ask('count to five'))) deltas.push(delta);

    expect(deltas.filter((d) => d.type === 'text').length).toBeGreaterThan(1);
    expect(textOf(deltas)).toBe('one two three four five');
    expect(deltas.at(-1)).toMatchObject({
      type: 'finish',
      finish_reason: 'stop',
      provider: 'openai',
      usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
    });
    expect(server.chatRequests()[0]?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('round-trips a tool call: the model calls calculator, our tool runs, the model answers', async () => {
    server.enqueue(
      {
        type: 'tool_calls',
        calls: [{ id: 'call_1', name: 'calculator', arguments: '{"expression":"17 * 23"}' }],
      },
      { type: 'text', text: '17 times 23 is 391.' },
    );
    const request = ask('what is 17 * 23?', { tools: tools.toLlmTools(['calculator']), tool_choice: 'auto' });

    const first = await llm.complete(request);
    const call = first.message.tool_calls?.[0];
    if (!call) throw new Error('expected a tool call');
    const output = await tools.invoke(call.function.name, call.function.arguments, { now: Date.now });
    const followUp: ChatMessage[] = [
      ...request.messages,
      first.message,
      { role: 'tool', tool_call_id: call.id, content: JSON.stringify(output) },
    ];
    const second = await llm.complete({ ...request, messages: followUp });

    expect(first.finish_reason).toBe('tool_calls');
    expect(second.message.content).toBe('17 times 23 is 391.');
    const [sentFirst, sentSecond] = server.chatRequests();
    expect(sentFirst?.body?.tools).toEqual(tools.toLlmTools(['calculator']));
    expect(sentSecond?.body?.messages).toEqual([
      { role: 'user', content: 'what is 17 * 23?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"expression":"17 * 23","result":391}' },
    ]);
  });

  it('streams parallel tool calls as fragments that reassemble exactly', async () => {
    const calls = [
      { id: 'call_a', name: 'calculator', arguments: '{"expression":"2^10"}' },
      { id: 'call_b', name: 'current_time', arguments: '{"timezone":"Europe/Paris"}' },
    ];
    server.enqueue({ type: 'tool_calls', calls });

    const deltas: ChatDelta[] = [];
    for await (const delta of llm.stream(ask('both', { tools: tools.toLlmTools() }))) deltas.push(delta);
    const completion = await collectStream(
      (async function* () {
        yield* deltas;
      })(),
    );

    expect(deltas.filter((d) => d.type === 'tool_call').length).toBeGreaterThan(calls.length);
    expect(completion.finish_reason).toBe('tool_calls');
    expect(completion.message.tool_calls).toEqual(
      calls.map(({ id, name, arguments: args }) => ({
        id,
        type: 'function',
        function: { name, arguments: args },
      })),
    );
  });

  it('maps a refused upstream key to a 502, never a 401 for our caller', async () => {
    const wrongKey = new OpenAiLlmClient(clientFor(server, 'sk-wrong'));
    const error = await wrongKey.complete(ask('hi')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect((error as LlmUnavailableError).statusCode).toBe(502);
  });
});

describe('failures, retries and deadlines', () => {
  it('honours a 429 retry-after before retrying, then succeeds', async () => {
    server.enqueue(
      { type: 'error', status: 429, headers: { 'retry-after': '1' } },
      { type: 'text', text: 'after the wait' },
    );
    const { timing, sleeps } = recordingTiming();
    const retrying = new RetryingLlmClient(llm, { maxAttempts: 3, baseDelayMs: 10 }, timing);

    const answer = await retrying.complete(ask('hi'), { deadlineMs: Date.now() + 20_000 });

    expect(answer.message.content).toBe('after the wait');
    expect(server.chatRequests()).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(1_000);
  });

  it('surfaces a 429 whose retry-after outlasts the deadline as an upstream 503, without retrying', async () => {
    server.enqueue(
      { type: 'error', status: 429, headers: { 'retry-after': '30' } },
      { type: 'text', text: 'never' },
    );
    const retrying = new RetryingLlmClient(llm, { maxAttempts: 3 }, recordingTiming().timing);

    const error = await retrying
      .complete(ask('hi'), { deadlineMs: Date.now() + 5_000 })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmRateLimitedError);
    expect((error as LlmRateLimitedError).statusCode).toBe(503);
    expect((error as LlmRateLimitedError).headers['Retry-After']).toBe('30');
    expect(server.chatRequests()).toHaveLength(1);
  });

  it('retries 500s and returns the answer that finally comes', async () => {
    server.enqueue(
      { type: 'error', status: 500 },
      { type: 'error', status: 503 },
      { type: 'text', text: 'third time lucky' },
    );
    const retrying = new RetryingLlmClient(llm, { maxAttempts: 3, baseDelayMs: 10 });

    const deltas: ChatDelta[] = [];
    for await (const delta of retrying.stream(ask('hi'))) deltas.push(delta);

    expect(textOf(deltas)).toBe('third time lucky');
    expect(server.chatRequests()).toHaveLength(3);
  });

  it('gives up on a stalled server with a timeout by the deadline, not the 60 s client timeout', async () => {
    server.enqueue({ type: 'stall' });

    const error = await llm.complete(ask('hi'), { deadlineMs: Date.now() + 1_000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmTimeoutError);
    expect((error as LlmTimeoutError).statusCode).toBe(504);
    expect(await eventually(() => server.chatRequests()[0]?.clientAborted === true)).toBe(true);
  }, 10_000);

  it('times out a stream that stalls after its first tokens', async () => {
    server.enqueue({ type: 'text', text: 'a b c d e', stallAfterPieces: 2 });
    const seen: string[] = [];

    const error = await (async () => {
      for await (const delta of llm.stream(ask('hi'), { deadlineMs: Date.now() + 1_000 })) {
        if (delta.type === 'text') seen.push(delta.text);
      }
    })().catch((e: unknown) => e);

    expect(seen).toEqual(['a', ' b']);
    expect(error).toBeInstanceOf(LlmTimeoutError);
  }, 10_000);

  it('lets a stream run past the timeout while its chunks keep coming; the timeout is the longest pause', async () => {
    const timeoutMs = 400;
    const patient = new OpenAiLlmClient(clientFor(server), { provider: 'openai', timeoutMs });
    const words = Array.from({ length: 12 }, (_, index) => `w${index}`);
    // 12 pieces 100 ms apart: about 1.2 s in all, three times the timeout, never 400 ms without a chunk.
    server.enqueue({ type: 'text', text: words.join(' '), piecesPerSecond: 10 });
    const started = Date.now();
    const deltas: ChatDelta[] = [];

    for await (const delta of patient.stream(ask('hi'), { deadlineMs: Date.now() + 10_000 }))
      deltas.push(delta);

    // The scenario itself: the stream lasted longer than the timeout.
    expect(Date.now() - started).toBeGreaterThan(timeoutMs);
    expect(textOf(deltas)).toBe(words.join(' '));
    expect(deltas.at(-1)).toMatchObject({ type: 'finish', finish_reason: 'stop' });
  }, 10_000);

  it('times out a stream that pauses longer than the timeout, long before the deadline', async () => {
    const timeoutMs = 400;
    const patient = new OpenAiLlmClient(clientFor(server), { provider: 'openai', timeoutMs });
    server.enqueue({ type: 'text', text: 'a b c d e', stallAfterPieces: 2 });
    const seen: string[] = [];

    // The deadline is 30 s away and the test gives up at 20 s: only the pause's timeout can end it.
    const error = await (async () => {
      for await (const delta of patient.stream(ask('hi'), { deadlineMs: Date.now() + 30_000 })) {
        if (delta.type === 'text') seen.push(delta.text);
      }
    })().catch((e: unknown) => e);

    expect(seen).toEqual(['a', ' b']);
    expect(error).toBeInstanceOf(LlmTimeoutError);
  }, 20_000);

  it('refuses to start a call when the deadline leaves no time', async () => {
    const error = await llm.complete(ask('hi'), { deadlineMs: Date.now() + 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmTimeoutError);
    expect(error).toMatchObject({ code: 'deadline_exceeded', retryable: false, upstreamFault: false });
    expect(server.chatRequests()).toHaveLength(0);
  });

  it('reports a stream cut mid-token as an upstream error, never as a short answer, and does not retry it', async () => {
    const paced = await startFakeOpenAiServer({ piecesPerSecond: 50 });
    try {
      paced.enqueue(
        { type: 'cut', text: 'one two three four', afterPieces: 2 },
        { type: 'text', text: 'retried' },
      );
      const retrying = new RetryingLlmClient(new OpenAiLlmClient(clientFor(paced)), {
        maxAttempts: 3,
        baseDelayMs: 1,
      });
      const deltas: ChatDelta[] = [];

      const error = await (async () => {
        for await (const delta of retrying.stream(ask('hi'))) deltas.push(delta);
      })().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LlmUnavailableError);
      expect(deltas.length).toBeGreaterThan(0);
      expect(deltas.some((d) => d.type === 'finish')).toBe(false);
      expect(paced.chatRequests()).toHaveLength(1);
    } finally {
      await paced.close();
    }
  });

  it('reports a stream that ends cleanly but without a finish as truncated, not as a short answer', async () => {
    server.enqueue({ type: 'cut', text: 'one two three four', afterPieces: 2, cleanEnd: true });
    const deltas: ChatDelta[] = [];

    const error = await (async () => {
      for await (const delta of llm.stream(ask('hi'))) deltas.push(delta);
    })().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmUnavailableError);
    expect((error as LlmUnavailableError).code).toBe('llm_stream_truncated');
    expect(textOf(deltas)).toBe('one two');
  });

  it('reports a JSON answer cut in the middle as an upstream error', async () => {
    server.enqueue({ type: 'cut', text: 'a complete sentence that never arrives' });
    await expect(llm.complete(ask('hi'))).rejects.toBeInstanceOf(LlmUnavailableError);
  });

  it('stops a stream when the caller aborts, and closes the upstream request', async () => {
    server.enqueue({ type: 'text', text: 'a b c d e f', stallAfterPieces: 3 });
    const controller = new AbortController();
    const seen: string[] = [];

    const error = await (async () => {
      for await (const delta of llm.stream(ask('hi'), { signal: controller.signal })) {
        if (delta.type === 'text') seen.push(delta.text);
        if (seen.length === 2) controller.abort();
      }
    })().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmAbortedError);
    expect(seen).toEqual(['a', ' b']);
    expect(await eventually(() => server.chatRequests()[0]?.clientAborted === true)).toBe(true);
  });
});

describe('circuit breaker and fallback chain', () => {
  it('opens the circuit after N failures; the rule-based provider answers, marked degraded', async () => {
    const failing = await startFakeOpenAiServer({ fallback: { type: 'error', status: 500 } });
    try {
      const breakers = new CircuitBreakerRegistry({ failureThreshold: 3, cooldownMs: 60_000 });
      const resilient = routedTo(failing.baseURL, { retry: { maxAttempts: 2, baseDelayMs: 1 }, breakers });

      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await resilient.complete(ask('hello')));

      for (const answer of answers) {
        expect(answer).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
        expect(answer.message.content).toMatch(/^Hello!/);
      }
      // One call counts once against its circuit: three calls of two attempts each open it, the fourth is refused.
      expect(breakers.for('openai', 'gpt-4o-mini').state).toBe('open');
      expect(failing.chatRequests()).toHaveLength(3 * 2);
    } finally {
      await failing.close();
    }
  });

  it('falls back to the rule-based provider when the server is down, streaming included', async () => {
    const gone = await startFakeOpenAiServer();
    await gone.close();
    const resilient = routedTo(gone.baseURL, { retry: { maxAttempts: 2, baseDelayMs: 1 } });

    const deltas: ChatDelta[] = [];
    for await (const delta of resilient.stream(
      ask('What time is it in Europe/Paris?', { tools: tools.toLlmTools() }),
      { deadlineMs: Date.now() + 10_000 },
    )) {
      deltas.push(delta);
    }

    const completion = await collectStream(
      (async function* () {
        yield* deltas;
      })(),
    );
    expect(completion).toMatchObject({
      provider: RULE_BASED_PROVIDER,
      degraded: true,
      finish_reason: 'tool_calls',
    });
    expect(completion.message.tool_calls?.[0]?.function).toEqual({
      name: 'current_time',
      arguments: '{"timezone":"Europe/Paris"}',
    });
  });

  it('does not fall back after a stream has started: the caller sees the upstream error', async () => {
    const paced = await startFakeOpenAiServer({ piecesPerSecond: 50 });
    try {
      paced.enqueue({ type: 'cut', text: 'partial answer here', afterPieces: 2 });
      const resilient = routedTo(paced.baseURL, { retry: { maxAttempts: 2, baseDelayMs: 1 } });
      const deltas: ChatDelta[] = [];

      const error = await (async () => {
        for await (const delta of resilient.stream(ask('hi'))) deltas.push(delta);
      })().catch((e: unknown) => e);

      expect(error).toBeInstanceOf(LlmUnavailableError);
      expect(deltas.every((d) => d.type !== 'finish')).toBe(true);
    } finally {
      await paced.close();
    }
  });

  it('openAiConnector wires the SDK with a key, and a fallback model before the rule-based provider', async () => {
    server.enqueue({ type: 'error', status: 500 }, { type: 'text', text: 'from the smaller model' });
    const client = routedTo(server.baseURL, {
      retry: { maxAttempts: 1 },
      catalogue: {
        openai: { models: { 'gpt-4o': { ...LIMITS, fallbacks: ['gpt-4o-mini'] }, 'gpt-4o-mini': LIMITS } },
      },
    });

    const answer = await client.complete(ask('hi', { model: 'gpt-4o' }));

    expect(answer).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini', degraded: true });
    expect(server.chatRequests().map((r) => r.body?.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});
