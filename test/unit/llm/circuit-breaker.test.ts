import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitBreakingLlmClient,
} from '../../../functions/core/llm/circuit-breaker';
import {
  LlmAbortedError,
  LlmBadRequestError,
  LlmCircuitOpenError,
  LlmTimeoutError,
  LlmUnavailableError,
} from '../../../functions/core/llm/errors';
import { drain, manualTiming, request, ScriptedLlmClient } from './fakes';

const fault = () => new LlmUnavailableError('5xx', { provider: 'p' });

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive faults, then refuses without calling', async () => {
    const clock = manualTiming();
    const breaker = new CircuitBreaker('p', { failureThreshold: 3, cooldownMs: 10_000, now: clock.now });
    const inner = new ScriptedLlmClient([
      { error: fault() },
      { error: fault() },
      { error: fault() },
      { answer: 'x' },
    ]);
    const llm = new CircuitBreakingLlmClient(inner, breaker);

    for (let i = 0; i < 3; i += 1)
      await expect(llm.complete(request())).rejects.toBeInstanceOf(LlmUnavailableError);
    const refused = await llm.complete(request()).catch((error: unknown) => error);

    expect(breaker.state).toBe('open');
    expect(refused).toBeInstanceOf(LlmCircuitOpenError);
    expect((refused as LlmCircuitOpenError).statusCode).toBe(503);
    expect((refused as LlmCircuitOpenError).headers['Retry-After']).toBe('10');
    expect(inner.calls).toHaveLength(3);
  });

  it('counts consecutive faults only: a success in between resets the count', async () => {
    const breaker = new CircuitBreaker('p', { failureThreshold: 2 });
    const inner = new ScriptedLlmClient([{ error: fault() }, { answer: 'ok' }, { error: fault() }]);
    const llm = new CircuitBreakingLlmClient(inner, breaker);

    await llm.complete(request()).catch(() => undefined);
    await llm.complete(request());
    await llm.complete(request()).catch(() => undefined);

    expect(breaker.state).toBe('closed');
  });

  it('ignores errors that are not the provider fault', async () => {
    const breaker = new CircuitBreaker('p', { failureThreshold: 1 });
    const inner = new ScriptedLlmClient([
      { error: new LlmBadRequestError('bad') },
      { error: new LlmAbortedError() },
      { error: new LlmTimeoutError('no time left', { beforeCall: true }) },
    ]);
    const llm = new CircuitBreakingLlmClient(inner, breaker);

    for (let i = 0; i < 3; i += 1) await llm.complete(request()).catch(() => undefined);

    expect(breaker.state).toBe('closed');
  });

  it('lets one trial through after the cool-down: success closes, failure reopens', async () => {
    const clock = manualTiming();
    const breaker = new CircuitBreaker('p', { failureThreshold: 1, cooldownMs: 1_000, now: clock.now });
    const inner = new ScriptedLlmClient([{ error: fault() }, { error: fault() }, { answer: 'back' }]);
    const llm = new CircuitBreakingLlmClient(inner, breaker);

    await llm.complete(request()).catch(() => undefined);
    expect(breaker.state).toBe('open');
    clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    await llm.complete(request()).catch(() => undefined);
    expect(breaker.state).toBe('open');
    clock.advance(1_000);
    await llm.complete(request());

    expect(breaker.state).toBe('closed');
    expect(inner.calls).toHaveLength(3);
  });

  it('allows a single trial at a time while half-open', () => {
    const clock = manualTiming();
    const breaker = new CircuitBreaker('p', { failureThreshold: 1, cooldownMs: 1_000, now: clock.now });
    breaker.acquire().failure();
    clock.advance(1_000);

    const trial = breaker.acquire();

    expect(() => breaker.acquire()).toThrow(LlmCircuitOpenError);
    trial.success();
    expect(() => breaker.acquire()).not.toThrow();
  });

  it('reports to the breaker when a stream breaks, and success when it finishes', async () => {
    const breaker = new CircuitBreaker('p', { failureThreshold: 1 });
    const inner = new ScriptedLlmClient([{ answer: 'a b c', failAfterDeltas: 1, error: fault() }]);
    const llm = new CircuitBreakingLlmClient(inner, breaker);

    await expect(drain(llm.stream(request()))).rejects.toBeInstanceOf(LlmUnavailableError);

    expect(breaker.state).toBe('open');
  });

  it('treats a consumer that stops reading as neutral', async () => {
    const clock = manualTiming();
    const breaker = new CircuitBreaker('p', { failureThreshold: 1, cooldownMs: 1_000, now: clock.now });
    breaker.acquire().failure();
    clock.advance(1_000);
    const llm = new CircuitBreakingLlmClient(new ScriptedLlmClient([{ answer: 'a b c' }]), breaker);

    for await (const _delta of llm.stream(request())) break;

    expect(breaker.state).toBe('half-open');
    expect(() => breaker.acquire()).not.toThrow();
  });

  it('keeps one breaker per provider in a registry', () => {
    const breakers = new CircuitBreakerRegistry();
    expect(breakers.for('a')).toBe(breakers.for('a'));
    expect(breakers.for('a')).not.toBe(breakers.for('b'));
  });
});
