// Core: a circuit breaker per provider and model, and the LlmClient decorator that consults it. After
// `failureThreshold` consecutive provider faults the circuit opens and calls fail at once (so a fallback
// answers without waiting on a dead provider); after `cooldownMs` one trial call is let through
// (half-open): its success closes the circuit, its failure opens it again. A call's outcome counts only
// if the circuit has not opened since the call was let through: older news says nothing about now.
import type { LlmClient } from '../ports/llm-client';
import type { PlatformMetrics } from '../ports/platform-metrics';
import { isUpstreamFault, LlmCircuitOpenError } from './errors';
import type { ChatCompletion, ChatDelta, ChatRequest, LlmCallOptions } from './types';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive provider faults that open the circuit (default 5). */
  failureThreshold?: number;
  /** How long an open circuit refuses calls before a trial (default 30 s). */
  cooldownMs?: number;
  /** Epoch milliseconds. */
  now?: () => number;
  /** The one model this breaker guards; absent, it guards the whole provider. */
  model?: string;
  onStateChange?: (change: {
    provider: string;
    model: string | undefined;
    from: CircuitState;
    to: CircuitState;
  }) => void;
}

/** A permit to make one call; report how it went exactly once. */
export interface CircuitPermit {
  success(): void;
  failure(): void;
  /** The call ended without telling anything about the provider (aborted, caller's own bad request). */
  neutral(): void;
}

/**
 * The state of one provider's (or one provider model's) circuit. Share one instance between every client
 * of it (e.g. at module scope, so it survives warm Lambda invocations).
 *
 * @example
 * const breaker = new CircuitBreaker('openai', { model: 'gpt-4o', failureThreshold: 5, cooldownMs: 30_000 });
 * const permit = breaker.acquire(); // throws LlmCircuitOpenError while open
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  /** Bumped each time the circuit opens; a permit from an older generation reports into the void. */
  private generation = 0;
  private readonly failureThreshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;
  readonly model: string | undefined;

  constructor(
    readonly provider: string,
    private readonly options: CircuitBreakerOptions = {},
  ) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.model = options.model;
  }

  /** The state as of now (an open circuit whose cool-down has passed reads as half-open). */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.cooldownMs) return 'half-open';
    return this.current;
  }

  private moveTo(to: CircuitState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.options.onStateChange?.({ provider: this.provider, model: this.model, from, to });
  }

  private open(): void {
    this.generation += 1;
    this.openedAt = this.now();
    this.trialInFlight = false;
    this.moveTo('open');
  }

  /** Lets a call through, or throws LlmCircuitOpenError (with the cool-down left) when it may not go. */
  acquire(): CircuitPermit {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.trialInFlight)) {
      const left = Math.max(0, this.openedAt + this.cooldownMs - this.now());
      throw new LlmCircuitOpenError(
        this.provider,
        left,
        this.model === undefined ? {} : { model: this.model },
      );
    }
    const trial = state === 'half-open';
    if (trial) {
      this.moveTo('half-open');
      this.trialInFlight = true;
    }
    const generation = this.generation;
    let settled = false;
    const settle = (outcome: 'success' | 'failure' | 'neutral') => {
      if (settled) return;
      settled = true;
      // Let through before the circuit last opened: a late failure must not re-open it (nor end the trial
      // now in flight), a late success must not close it while the trial is still deciding.
      if (generation !== this.generation) return;
      if (trial) this.trialInFlight = false;
      if (outcome === 'success') {
        this.failures = 0;
        this.moveTo('closed');
      } else if (outcome === 'failure') {
        this.failures += 1;
        if (trial || this.failures >= this.failureThreshold) this.open();
      }
    };
    return {
      success: () => settle('success'),
      failure: () => settle('failure'),
      neutral: () => settle('neutral'),
    };
  }
}

const report = (permit: CircuitPermit, error: unknown): void => {
  if (isUpstreamFault(error) && !(error instanceof LlmCircuitOpenError)) permit.failure();
  else permit.neutral();
};

/**
 * Guards a client with a circuit breaker: a fixed one, or one chosen per request (e.g. by its model). Only
 * provider faults count (5xx, timeouts, rate limits, broken streams); the caller's own errors and aborts
 * do not. Put it outside a RetryingLlmClient so that one call counts once, however many attempts it made.
 *
 * @example
 * const guarded = new CircuitBreakingLlmClient(openAi, (request) => breakers.for('openai', request.model));
 */
export class CircuitBreakingLlmClient implements LlmClient {
  private readonly breakerFor: (request: ChatRequest) => CircuitBreaker;

  constructor(
    private readonly inner: LlmClient,
    breaker: CircuitBreaker | ((request: ChatRequest) => CircuitBreaker),
  ) {
    this.breakerFor = breaker instanceof CircuitBreaker ? () => breaker : breaker;
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    const permit = this.breakerFor(request).acquire();
    try {
      const completion = await this.inner.complete(request, options);
      permit.success();
      return completion;
    } catch (error) {
      report(permit, error);
      throw error;
    }
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    const permit = this.breakerFor(request).acquire();
    try {
      for await (const delta of this.inner.stream(request, options)) {
        if (delta.type === 'finish') permit.success();
        yield delta;
      }
    } catch (error) {
      report(permit, error);
      throw error;
    } finally {
      // The consumer stopped early: that says nothing about the provider.
      permit.neutral();
    }
  }
}

/**
 * An `onStateChange` that counts each transition in PlatformMetrics (the state entered, by provider).
 *
 * @example
 * const breakers = new CircuitBreakerRegistry({ onStateChange: countBreakerTransitions(metrics) });
 */
export const countBreakerTransitions =
  (metrics: PlatformMetrics): NonNullable<CircuitBreakerOptions['onStateChange']> =>
  ({ provider, model, to }) =>
    metrics.breakerChanged({ provider, model, state: to === 'half-open' ? 'half_open' : to });

/**
 * One breaker per provider and model (or per provider, when no model is named), created on first use
 * with the same options.
 *
 * @example
 * const breakers = new CircuitBreakerRegistry({ failureThreshold: 5 }); // module scope
 * breakers.for('openai', 'gpt-4o') === breakers.for('openai', 'gpt-4o'); // true
 * breakers.for('openai', 'gpt-4o') === breakers.for('openai', 'gpt-4o-mini'); // false
 */
export class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();
  constructor(private readonly options: CircuitBreakerOptions = {}) {}

  for(provider: string, model?: string): CircuitBreaker {
    const key = model === undefined ? provider : `${provider}:${model}`;
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = new CircuitBreaker(provider, model === undefined ? this.options : { ...this.options, model });
      this.breakers.set(key, breaker);
    }
    return breaker;
  }
}
