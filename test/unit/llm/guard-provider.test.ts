// Unit: guardProvider (a breaker per provider and model, outside the retries), alone and as the router
// uses it for a model whose declared fallback is another model of the same provider.
import { describe, expect, it } from 'vitest';
import { ModelCatalogue } from '../../../functions/core/llm/catalogue';
import { CircuitBreakerRegistry } from '../../../functions/core/llm/circuit-breaker';
import { completionToDeltas } from '../../../functions/core/llm/deltas';
import { LlmCircuitOpenError, LlmUnavailableError } from '../../../functions/core/llm/errors';
import { guardProvider } from '../../../functions/core/llm/guard-provider';
import { ProviderRoutingLlmClient } from '../../../functions/core/llm/provider-router';
import type { ChatCompletion, ChatDelta, ChatRequest } from '../../../functions/core/llm/types';
import type { LlmClient } from '../../../functions/core/ports/llm-client';
import { completionOf, drain, manualTiming, request } from './fakes';

/** One provider serving several models: `failing` models always fault, the others answer. */
class ModelsOfOneProvider implements LlmClient {
  readonly calls: string[] = [];
  constructor(private readonly failing: ReadonlySet<string>) {}

  async complete(request: ChatRequest): Promise<ChatCompletion> {
    this.calls.push(request.model);
    if (this.failing.has(request.model)) {
      throw new LlmUnavailableError(`${request.model} is down`, { provider: 'openai' });
    }
    return completionOf(`from ${request.model}`, 'openai', request.model);
  }

  async *stream(request: ChatRequest): AsyncGenerator<ChatDelta> {
    yield* completionToDeltas(await this.complete(request));
  }
}

const LIMITS = { contextTokens: 8_000, maxOutputTokens: 1_000 };

/**
 * `primary and small`: the router, `big` falling back to `small` of the same provider, then the rule-based
 * provider. `primary only`: the provider's guarded client alone, so its errors reach the caller.
 */
const setUp = (failing: string[], links: 'primary and small' | 'primary only' = 'primary and small') => {
  const { timing } = manualTiming();
  const openai = new ModelsOfOneProvider(new Set(failing));
  const breakers = new CircuitBreakerRegistry({ failureThreshold: 2, cooldownMs: 60_000, now: timing.now });
  const retry = { maxAttempts: 3 };
  const llm: LlmClient =
    links === 'primary only'
      ? guardProvider('openai', openai, { breakers, retry, timing })
      : new ProviderRoutingLlmClient({
          catalogue: new ModelCatalogue({
            openai: { models: { big: { ...LIMITS, fallbacks: ['small'] }, small: LIMITS } },
          }),
          connect: async () => openai,
          breakers,
          retry,
          timing,
        });
  return { openai, breakers, llm };
};

describe('guardProvider: circuits per provider and model', () => {
  it('still tries a fallback model of the same provider when the primary model keeps failing', async () => {
    const { openai, llm } = setUp(['big']);

    const answer = await llm.complete(request('hi', { model: 'big' }));

    expect(answer).toMatchObject({ provider: 'openai', model: 'small', degraded: true });
    expect(openai.calls.filter((model) => model === 'small')).toHaveLength(1);
  });

  it('keeps answering from the fallback model once the primary model circuit is open', async () => {
    const { openai, breakers, llm } = setUp(['big']);
    for (let i = 0; i < 2; i += 1) await llm.complete(request('hi', { model: 'big' }));
    const bigCallsBefore = openai.calls.filter((model) => model === 'big').length;

    const answer = await llm.complete(request('hi', { model: 'big' }));

    expect(breakers.for('openai', 'big').state).toBe('open');
    expect(breakers.for('openai', 'small').state).toBe('closed');
    expect(answer).toMatchObject({ model: 'small', degraded: true });
    expect(openai.calls.filter((model) => model === 'big')).toHaveLength(bigCallsBefore);
  });

  it('counts a call once against the circuit, however many attempts its retries made', async () => {
    const { openai, breakers, llm: single } = setUp(['big'], 'primary only');

    await expect(single.complete(request('hi', { model: 'big' }))).rejects.toBeInstanceOf(
      LlmUnavailableError,
    );
    const afterOneCall = { attempts: openai.calls.length, state: breakers.for('openai', 'big').state };
    await expect(single.complete(request('hi', { model: 'big' }))).rejects.toBeInstanceOf(
      LlmUnavailableError,
    );
    const refused = await single.complete(request('hi', { model: 'big' })).catch((error: unknown) => error);

    expect(afterOneCall).toEqual({ attempts: 3, state: 'closed' });
    expect(breakers.for('openai', 'big').state).toBe('open');
    expect(refused).toBeInstanceOf(LlmCircuitOpenError);
    expect(openai.calls).toHaveLength(6);
  });

  it('falls back to the other model for a stream too', async () => {
    const { llm } = setUp(['big']);

    const deltas = await drain(llm.stream(request('hi', { model: 'big' })));

    expect(deltas.at(-1)).toMatchObject({ type: 'finish', model: 'small', degraded: true });
  });
});
