// Core: one provider's client as the router uses it: a circuit breaker (one per provider and model) around
// retries (LLM_CALL, core/resilience/retry-policy) around the adapter.
import type { LlmClient } from '../ports/llm-client';
import { type CircuitBreakerRegistry, CircuitBreakingLlmClient } from './circuit-breaker';
import { RetryingLlmClient, type RetryOptions } from './retrying-llm-client';
import { REAL_TIMING, type Timing } from './timing';

/**
 * One provider's client behind a circuit breaker (keyed by the provider and each request's model, so one
 * guarded client serves all its models) around retries. Breaker outside the retries: a call counts once.
 *
 * @example
 * const guarded = guardProvider('openai', adapter, { breakers, retry: { maxAttempts: 3 } });
 */
export const guardProvider = (
  provider: string,
  client: LlmClient,
  options: {
    breakers: CircuitBreakerRegistry;
    retry?: RetryOptions | undefined;
    timing?: Timing | undefined;
  },
): LlmClient =>
  // A fallback chain has already put its link's model (if any) into the request it hands down.
  new CircuitBreakingLlmClient(
    new RetryingLlmClient(client, options.retry, options.timing ?? REAL_TIMING),
    (request) => options.breakers.for(provider, request.model),
  );
