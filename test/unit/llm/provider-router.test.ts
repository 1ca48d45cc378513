// Unit: the provider router sends each model to its provider's client, connects a provider only when one
// of its models is first asked for, keeps breakers per provider and model, and answers through the
// rule-based provider for a provider with no key (or whose key could not be read). With fallbacks declared,
// a model's chain goes on to each fallback model on its own provider, then to the rule-based provider.
import { describe, expect, it } from 'vitest';
import { ModelCatalogue, type ProviderCatalogue } from '../../../functions/core/llm/catalogue';
import { CircuitBreakerRegistry } from '../../../functions/core/llm/circuit-breaker';
import { collectStream } from '../../../functions/core/llm/deltas';
import {
  LlmAbortedError,
  LlmBadRequestError,
  LlmContextTooLongError,
  LlmUnavailableError,
} from '../../../functions/core/llm/errors';
import { ProviderRoutingLlmClient } from '../../../functions/core/llm/provider-router';
import { RULE_BASED_PROVIDER } from '../../../functions/core/llm/rule-based-provider';
import { estimatePromptTokens } from '../../../functions/core/llm/token-estimate';
import type { LlmClient } from '../../../functions/core/ports/llm-client';
import { manualTiming, request, ScriptedLlmClient, type Step } from './fakes';

const LIMITS = { contextTokens: 8_000, maxOutputTokens: 1_000 };
const CATALOGUE: ProviderCatalogue = {
  alpha: { models: { 'alpha-large': LIMITS, 'alpha-small': LIMITS } },
  beta: { baseUrl: 'https://beta.example/v1', models: { 'beta-chat': LIMITS } },
};

const down = (provider: string) => ({ error: new LlmUnavailableError(`${provider} is down`, { provider }) });

/** A router over `clients` (undefined: that provider has no key); records every connection attempt. */
const setUp = (clients: Record<string, LlmClient | undefined | Error>, catalogue = CATALOGUE) => {
  const { timing } = manualTiming();
  const connects: string[] = [];
  const connectErrors: string[] = [];
  const breakers = new CircuitBreakerRegistry({ failureThreshold: 2, cooldownMs: 60_000, now: timing.now });
  const router = new ProviderRoutingLlmClient({
    catalogue: new ModelCatalogue(catalogue),
    breakers,
    timing,
    retry: { maxAttempts: 1 },
    connect: async (provider) => {
      connects.push(provider);
      const client = clients[provider];
      if (client instanceof Error) throw client;
      return client;
    },
    onConnectError: ({ provider }) => connectErrors.push(provider),
  });
  return { router, connects, connectErrors, breakers };
};

const scripted = (provider: string, steps: Step[]) => new ScriptedLlmClient(steps, provider);

describe('ProviderRoutingLlmClient', () => {
  it("sends each model to its own provider's client, and connects only the providers asked for", async () => {
    const alpha = scripted('alpha', [{ answer: 'from alpha' }]);
    const beta = scripted('beta', [{ answer: 'from beta' }]);
    const { router, connects } = setUp({ alpha, beta });

    const first = await router.complete(request('hi', { model: 'alpha-small' }));
    const connectedAfterFirst = [...connects];
    const second = await router.complete(request('hi', { model: 'beta-chat' }));

    expect(first).toMatchObject({ provider: 'alpha', model: 'alpha-small', degraded: false });
    expect(second).toMatchObject({ provider: 'beta', model: 'beta-chat', degraded: false });
    expect(alpha.calls.map((call) => call.request.model)).toEqual(['alpha-small']);
    expect(beta.calls.map((call) => call.request.model)).toEqual(['beta-chat']);
    expect(connectedAfterFirst).toEqual(['alpha']);
  });

  it('connects each provider once, however many requests and models go to it (streams too)', async () => {
    const alpha = scripted('alpha', [{ answer: 'one' }, { answer: 'two' }, { answer: 'three' }]);
    const { router, connects } = setUp({ alpha });

    await Promise.all([
      router.complete(request('a', { model: 'alpha-large' })),
      router.complete(request('b', { model: 'alpha-small' })),
    ]);
    const streamed = await collectStream(router.stream(request('c', { model: 'alpha-large' })));

    expect(connects).toEqual(['alpha']);
    expect(streamed).toMatchObject({ provider: 'alpha', model: 'alpha-large' });
    expect(alpha.calls).toHaveLength(3);
  });

  it('refuses a model outside the catalogue with a 400 model_not_found, connecting nothing', async () => {
    const { router, connects } = setUp({ alpha: scripted('alpha', []) });

    const error = await router.complete(request('hi', { model: 'gamma-1' })).catch((caught) => caught);
    const streamError = await collectStream(router.stream(request('hi', { model: 'gamma-1' }))).catch(
      (caught) => caught,
    );

    expect(error).toBeInstanceOf(LlmBadRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'model_not_found', param: 'model' });
    expect(streamError).toMatchObject({ statusCode: 400, code: 'model_not_found' });
    expect(connects).toEqual([]);
  });

  it("keys the breakers by provider and model: a failing provider opens its own circuit, not the other's", async () => {
    const alpha = scripted('alpha', [down('alpha'), down('alpha'), down('alpha')]);
    const beta = scripted('beta', [{ answer: 'b1' }, { answer: 'b2' }]);
    const { router, breakers } = setUp({ alpha, beta });

    const degraded = [];
    for (let index = 0; index < 3; index += 1) {
      degraded.push(await router.complete(request('hi', { model: 'alpha-large' })));
    }
    const fromBeta = await router.complete(request('hi', { model: 'beta-chat' }));

    // Two faults open alpha-large's circuit; the third request is refused without reaching alpha.
    expect(alpha.calls).toHaveLength(2);
    expect(degraded.map((answer) => answer.provider)).toEqual([
      RULE_BASED_PROVIDER,
      RULE_BASED_PROVIDER,
      RULE_BASED_PROVIDER,
    ]);
    expect(degraded.every((answer) => answer.degraded)).toBe(true);
    expect(breakers.for('alpha', 'alpha-large').state).toBe('open');
    expect(breakers.for('alpha', 'alpha-small').state).toBe('closed');
    expect(breakers.for('beta', 'beta-chat').state).toBe('closed');
    expect(fromBeta).toMatchObject({ provider: 'beta', degraded: false });
  });

  it('answers a provider without a key through the rule-based provider, marked degraded', async () => {
    const beta = scripted('beta', []);
    const { router } = setUp({ alpha: undefined, beta });

    const answer = await router.complete(request('hello', { model: 'alpha-small' }));

    expect(answer).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
    expect(beta.calls).toHaveLength(0);
  });

  it('answers through the rule-based provider when a key cannot be read, and tries again next time', async () => {
    const alpha = scripted('alpha', [{ answer: 'back' }]);
    const clients: Record<string, LlmClient | Error> = { alpha: new Error('AccessDenied') };
    const { router, connects, connectErrors } = setUp(clients);

    const first = await router.complete(request('hello', { model: 'alpha-small' }));
    clients.alpha = alpha;
    const second = await router.complete(request('hello', { model: 'alpha-small' }));

    expect(first).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
    expect(connectErrors).toEqual(['alpha']);
    expect(second).toMatchObject({ provider: 'alpha', degraded: false });
    expect(connects).toEqual(['alpha', 'alpha']);
  });
});

// alpha-large falls back to another alpha model, then across to beta; alpha-solo only to beta's models,
// which are smaller than alpha's.
const WITH_FALLBACKS: ProviderCatalogue = {
  alpha: {
    models: {
      'alpha-large': { ...LIMITS, fallbacks: ['alpha-small', 'beta-chat'] },
      'alpha-small': LIMITS,
      'alpha-solo': { ...LIMITS, fallbacks: ['beta-tiny', 'beta-chat'] },
    },
  },
  beta: {
    models: {
      'beta-chat': { contextTokens: 8_000, maxOutputTokens: 500 },
      'beta-tiny': { contextTokens: 300, maxOutputTokens: 200 },
    },
  },
};

const modelsAsked = (client: ScriptedLlmClient) => client.calls.map((call) => call.request.model);

describe('ProviderRoutingLlmClient with fallbacks', () => {
  it("answers from the first fallback that works, on its own provider, marked degraded, in the chain's order", async () => {
    const alpha = scripted('alpha', [down('alpha'), down('alpha')]);
    const beta = scripted('beta', [{ answer: 'beta saves the day' }]);
    const { router, connects } = setUp({ alpha, beta }, WITH_FALLBACKS);

    const answer = await router.complete(request('hi', { model: 'alpha-large' }));

    expect(answer).toMatchObject({ provider: 'beta', model: 'beta-chat', degraded: true });
    expect(answer.message.content).toBe('beta saves the day');
    expect(modelsAsked(alpha)).toEqual(['alpha-large', 'alpha-small']);
    expect(modelsAsked(beta)).toEqual(['beta-chat']);
    expect(connects).toEqual(['alpha', 'beta']);
  });

  it('asks only the model itself while it answers, connecting no fallback provider', async () => {
    const alpha = scripted('alpha', [{ answer: 'fine' }]);
    const beta = scripted('beta', []);
    const { router, connects } = setUp({ alpha, beta }, WITH_FALLBACKS);

    const answer = await router.complete(request('hi', { model: 'alpha-large' }));

    expect(answer).toMatchObject({ provider: 'alpha', model: 'alpha-large', degraded: false });
    expect(connects).toEqual(['alpha']);
  });

  it('falls back in a stream that failed before its first delta, and marks its finish degraded', async () => {
    const alpha = scripted('alpha', [down('alpha'), down('alpha')]);
    const beta = scripted('beta', [{ answer: 'streamed by beta' }]);
    const { router } = setUp({ alpha, beta }, WITH_FALLBACKS);

    const answer = await collectStream(router.stream(request('hi', { model: 'alpha-large' })));

    expect(answer).toMatchObject({ provider: 'beta', model: 'beta-chat', degraded: true });
    expect(answer.message.content).toBe('streamed by beta');
  });

  it.each([
    ['a bad request', new LlmBadRequestError('bad tool schema', { provider: 'alpha' })],
    ['a context too long', new LlmContextTooLongError('too long', { provider: 'alpha' })],
    ['an abort', new LlmAbortedError(undefined, { provider: 'alpha' })],
  ])('does not fall back on %s: the error is the caller’s own', async (_case, error) => {
    const alpha = scripted('alpha', [{ error }]);
    const beta = scripted('beta', []);
    const { router, connects } = setUp({ alpha, beta }, WITH_FALLBACKS);

    const caught = await router.complete(request('hi', { model: 'alpha-large' })).catch((thrown) => thrown);

    expect(caught).toBe(error);
    expect(modelsAsked(alpha)).toEqual(['alpha-large']);
    expect(connects).toEqual(['alpha']);
  });

  it('keeps a breaker per provider and model: an open primary still lets its fallbacks be tried', async () => {
    const alpha = scripted('alpha', [
      down('alpha'),
      { answer: 'small 1' },
      down('alpha'),
      { answer: 'small 2' },
      { answer: 'small 3' },
    ]);
    const { router, breakers } = setUp({ alpha, beta: scripted('beta', []) }, WITH_FALLBACKS);

    const answers = [];
    for (let index = 0; index < 3; index += 1) {
      answers.push(await router.complete(request('hi', { model: 'alpha-large' })));
    }

    // Two faults open alpha-large's circuit: the third request skips it, and alpha-small answers at once.
    expect(modelsAsked(alpha)).toEqual([
      'alpha-large',
      'alpha-small',
      'alpha-large',
      'alpha-small',
      'alpha-small',
    ]);
    expect(answers.map((answer) => [answer.provider, answer.model, answer.degraded])).toEqual([
      ['alpha', 'alpha-small', true],
      ['alpha', 'alpha-small', true],
      ['alpha', 'alpha-small', true],
    ]);
    expect(breakers.for('alpha', 'alpha-large').state).toBe('open');
    expect(breakers.for('alpha', 'alpha-small').state).toBe('closed');
    expect(breakers.for('beta', 'beta-chat').state).toBe('closed');
  });

  it('skips a provider without a key and answers from the next fallback', async () => {
    const beta = scripted('beta', [{ answer: 'beta answers' }]);
    const { router } = setUp({ alpha: undefined, beta }, WITH_FALLBACKS);

    const answer = await router.complete(request('hi', { model: 'alpha-large' }));

    expect(answer).toMatchObject({ provider: 'beta', model: 'beta-chat', degraded: true });
  });

  it('ends with the rule-based provider when every fallback fails', async () => {
    const alpha = scripted('alpha', [down('alpha'), down('alpha')]);
    const beta = scripted('beta', [down('beta')]);
    const { router } = setUp({ alpha, beta }, WITH_FALLBACKS);

    const answer = await router.complete(request('hello', { model: 'alpha-large' }));

    expect(answer).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
    expect([...modelsAsked(alpha), ...modelsAsked(beta)]).toEqual([
      'alpha-large',
      'alpha-small',
      'beta-chat',
    ]);
  });

  it("lowers max_tokens to a fallback's output limit, and never raises it", async () => {
    const alpha = scripted('alpha', [down('alpha'), down('alpha'), down('alpha'), down('alpha')]);
    const beta = scripted('beta', [{ answer: 'short' }, { answer: 'shorter' }]);
    const { router } = setUp({ alpha, beta }, WITH_FALLBACKS);

    await router.complete(request('hi', { model: 'alpha-large', max_tokens: 800 }));
    await router.complete(request('hi', { model: 'alpha-large', max_tokens: 100 }));

    expect(beta.calls.map((call) => call.request.max_tokens)).toEqual([500, 100]);
    expect(alpha.calls.map((call) => call.request.max_tokens)).toEqual([800, 800, 100, 100]);
  });

  it("lowers max_tokens to what a smaller fallback's window leaves, and skips one the prompt alone fills", async () => {
    const alpha = scripted('alpha', [down('alpha'), down('alpha')]);
    const beta = scripted('beta', [{ answer: 'fits' }, { answer: 'from the larger one' }]);
    const { router } = setUp({ alpha, beta }, WITH_FALLBACKS);
    const fits = request('word '.repeat(60), { model: 'alpha-solo', max_tokens: 200 });
    const tooLong = request('word '.repeat(400), { model: 'alpha-solo', max_tokens: 200 });
    const room = 300 - estimatePromptTokens(fits);

    const first = await router.complete(fits);
    const second = await router.complete(tooLong);

    expect(room).toBeGreaterThan(0);
    expect(room).toBeLessThan(200);
    expect(first.model).toBe('beta-tiny');
    expect(beta.calls[0]?.request.max_tokens).toBe(room);
    expect(second.model).toBe('beta-chat');
    expect(modelsAsked(beta)).toEqual(['beta-tiny', 'beta-chat']);
  });
});
