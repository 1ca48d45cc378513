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
import { DeferredLlmClient, drain, manualTiming, request, ScriptedLlmClient } from './fakes';

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

  // Calls that were let through while closed, and finish only after the circuit opened and its trial began.
  const staleCallsDuringTrial = async () => {
    const clock = manualTiming();
    const breaker = new CircuitBreaker('p', { failureThreshold: 2, cooldownMs: 1_000, now: clock.now });
    const inner = new DeferredLlmClient();
    const llm = new CircuitBreakingLlmClient(inner, breaker);
    const outcomes = [0, 1, 2].map(() => llm.complete(request()).catch((error: unknown) => error));
    const [first, second, stale] = inner.pending;
    if (!first || !second || !stale) throw new Error('expected three calls in flight');
    first.fail(fault());
    second.fail(fault());
    await Promise.all(outcomes.slice(0, 2));
    clock.advance(1_000);
    const trialOutcome = llm.complete(request()).catch((error: unknown) => error);
    const trial = inner.pending[3];
    if (!trial) throw new Error('expected the trial call');
    return { breaker, inner, llm, stale, staleOutcome: outcomes[2], trial, trialOutcome };
  };

  it('ignores a failure from a call let through before the circuit opened, while the trial is pending', async () => {
    const { breaker, llm, stale, staleOutcome, trial, trialOutcome } = await staleCallsDuringTrial();

    stale.fail(fault());
    await staleOutcome;

    expect(breaker.state).toBe('half-open');
    await expect(llm.complete(request())).rejects.toBeInstanceOf(LlmCircuitOpenError);
    trial.succeed();
    await trialOutcome;
    expect(breaker.state).toBe('closed');
  });

  it('ignores a success from a call let through before the circuit opened, while the trial is pending', async () => {
    const { breaker, llm, stale, staleOutcome, trial, trialOutcome } = await staleCallsDuringTrial();

    stale.succeed();
    await staleOutcome;

    expect(breaker.state).toBe('half-open');
    await expect(llm.complete(request())).rejects.toBeInstanceOf(LlmCircuitOpenError);
    trial.fail(fault());
    await trialOutcome;
    expect(breaker.state).toBe('open');
  });

  it('ignores a stale outcome that arrives after the trial already closed the circuit', async () => {
    const { breaker, inner, llm, stale, staleOutcome, trial, trialOutcome } = await staleCallsDuringTrial();
    trial.succeed();
    await trialOutcome;
    const fresh = llm.complete(request()).catch((error: unknown) => error);
    inner.pending[4]?.fail(fault());
    await fresh;

    stale.fail(fault());
    await staleOutcome;

    expect(breaker.state).toBe('closed');
  });

  it('keeps one breaker per provider in a registry', () => {
    const breakers = new CircuitBreakerRegistry();
    expect(breakers.for('a')).toBe(breakers.for('a'));
    expect(breakers.for('a')).not.toBe(breakers.for('b'));
  });
});
