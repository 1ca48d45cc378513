import { describe, expect, it } from 'vitest';
import { ModelCatalogue } from '../../../functions/core/llm/catalogue';
import { CircuitBreakerRegistry } from '../../../functions/core/llm/circuit-breaker';
import {
  LlmAbortedError,
  LlmBadRequestError,
  LlmCircuitOpenError,
  LlmUnavailableError,
} from '../../../functions/core/llm/errors';
import { FallbackLlmClient } from '../../../functions/core/llm/fallback-llm-client';
import { ProviderRoutingLlmClient } from '../../../functions/core/llm/provider-router';
import { RULE_BASED_PROVIDER } from '../../../functions/core/llm/rule-based-provider';
import { drain, manualTiming, request, ScriptedLlmClient } from './fakes';

const fault = () => new LlmUnavailableError('down', { provider: 'primary' });

describe('FallbackLlmClient', () => {
  it('answers from the first link when it works, not degraded', async () => {
    const first = new ScriptedLlmClient([{ answer: 'primary answer' }], 'primary');
    const second = new ScriptedLlmClient([], 'secondary');
    const llm = new FallbackLlmClient([
      { name: 'primary', client: first },
      { name: 'secondary', client: second },
    ]);

    const answer = await llm.complete(request());

    expect(answer).toMatchObject({ provider: 'primary', degraded: false });
    expect(second.calls).toHaveLength(0);
  });

  it('falls back on a provider fault, asks for the link model, and marks the answer degraded', async () => {
    const first = new ScriptedLlmClient([{ error: fault() }], 'primary');
    const second = new ScriptedLlmClient([{ answer: 'smaller model answer' }], 'primary');
    const fallbacks: string[] = [];
    const llm = new FallbackLlmClient(
      [
        { name: 'primary', client: first },
        { name: 'mini', client: second, model: 'gpt-4o-mini' },
      ],
      { onFallback: ({ from, to }) => fallbacks.push(`${from}->${to}`) },
    );

    const answer = await llm.complete(request('hi', { model: 'gpt-4o' }));

    expect(answer).toMatchObject({ model: 'gpt-4o-mini', degraded: true });
    expect(second.calls[0]?.request.model).toBe('gpt-4o-mini');
    expect(fallbacks).toEqual(['primary->mini']);
  });

  it('does not fall back on the caller own errors or on abort', async () => {
    for (const error of [new LlmBadRequestError('bad'), new LlmAbortedError(), new RangeError('bug')]) {
      const second = new ScriptedLlmClient([{ answer: 'never' }]);
      const llm = new FallbackLlmClient([
        { name: 'a', client: new ScriptedLlmClient([{ error }]) },
        { name: 'b', client: second },
      ]);
      await expect(llm.complete(request())).rejects.toBe(error);
      expect(second.calls).toHaveLength(0);
    }
  });

  it('throws the last link error when every link fails', async () => {
    const last = new LlmCircuitOpenError('b', 1_000);
    const llm = new FallbackLlmClient([
      { name: 'a', client: new ScriptedLlmClient([{ error: fault() }]) },
      { name: 'b', client: new ScriptedLlmClient([{ error: last }]) },
    ]);
    await expect(llm.complete(request())).rejects.toBe(last);
  });

  it('falls back for a stream only before it has yielded', async () => {
    const before = new FallbackLlmClient([
      { name: 'a', client: new ScriptedLlmClient([{ error: fault() }]) },
      { name: 'b', client: new ScriptedLlmClient([{ answer: 'from b' }], 'b') },
    ]);
    const deltas = await drain(before.stream(request()));
    expect(deltas.at(-1)).toMatchObject({ type: 'finish', provider: 'b', degraded: true });

    const cut = fault();
    const second = new ScriptedLlmClient([{ answer: 'never' }]);
    const after = new FallbackLlmClient([
      { name: 'a', client: new ScriptedLlmClient([{ answer: 'x y z', failAfterDeltas: 2, error: cut }]) },
      { name: 'b', client: second },
    ]);
    await expect(drain(after.stream(request()))).rejects.toBe(cut);
    expect(second.calls).toHaveLength(0);
  });
});

describe('FallbackLlmClient behind the provider router', () => {
  it('retries, opens the circuit, then lets the rule-based provider answer without calling the provider', async () => {
    const { timing } = manualTiming();
    const provider = new ScriptedLlmClient(
      Array.from({ length: 10 }, () => ({ error: fault() })),
      'primary',
    );
    const breakers = new CircuitBreakerRegistry({ failureThreshold: 3, cooldownMs: 60_000, now: timing.now });
    const llm = new ProviderRoutingLlmClient({
      catalogue: new ModelCatalogue({
        primary: { models: { [request().model]: { contextTokens: 8_000, maxOutputTokens: 1_000 } } },
      }),
      connect: async () => provider,
      retry: { maxAttempts: 2 },
      breakers,
      timing,
    });

    const first = await llm.complete(request('hello'));
    const callsAfterFirst = provider.calls.length;
    const failedCalls = [await llm.complete(request('hello')), await llm.complete(request('hello'))];
    const callsWhileClosed = provider.calls.length;
    const refused = await llm.complete(request('hello'));

    expect(first).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true });
    expect(callsAfterFirst).toBe(2);
    expect(failedCalls.map((answer) => answer.provider)).toEqual([RULE_BASED_PROVIDER, RULE_BASED_PROVIDER]);
    expect(breakers.for('primary', request().model).state).toBe('open');
    expect(refused.provider).toBe(RULE_BASED_PROVIDER);
    expect(provider.calls).toHaveLength(callsWhileClosed);
  });
});
