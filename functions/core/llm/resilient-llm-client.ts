// Core: the LLM client a function actually uses, composed from the small decorators: per provider link,
// retries around a circuit breaker around the adapter; then a fallback chain whose last link is the
// rule-based provider, so a chat always gets an honest answer.
import type { LlmClient } from '../ports/llm-client';
import {
  type CircuitBreakerOptions,
  CircuitBreakerRegistry,
  CircuitBreakingLlmClient,
} from './circuit-breaker';
import { type FallbackLink, FallbackLlmClient, type FallbackOptions } from './fallback-llm-client';
import { RetryingLlmClient, type RetryOptions } from './retrying-llm-client';
import { RULE_BASED_PROVIDER, RuleBasedLlmClient } from './rule-based-provider';
import { REAL_TIMING, type Timing } from './timing';

export { CircuitBreaker, CircuitBreakerRegistry, CircuitBreakingLlmClient } from './circuit-breaker';
export { FallbackLlmClient } from './fallback-llm-client';
export { RetryingLlmClient } from './retrying-llm-client';

export interface ProviderLink {
  /** The provider's name: links of the same provider share one circuit breaker. */
  provider: string;
  client: LlmClient;
  /** Ask this link for another model than the request names. */
  model?: string;
}

export interface ResilientLlmClientOptions {
  /** The provider links in order of preference; the rule-based provider is appended unless disabled. */
  links: readonly ProviderLink[];
  retry?: RetryOptions;
  /** Keep one registry at module scope so breaker state survives warm invocations. */
  breakers?: CircuitBreakerRegistry;
  breaker?: CircuitBreakerOptions;
  fallback?: FallbackOptions;
  /** Default true: the chain ends with the rule-based provider. */
  ruleBasedFallback?: boolean;
  timing?: Timing;
}

/**
 * Builds retry → circuit breaker → provider for each link, chained by a fallback to the rule-based provider.
 *
 * @example
 * const breakers = new CircuitBreakerRegistry({ failureThreshold: 5, cooldownMs: 30_000 });
 * const llm = createResilientLlmClient({
 *   links: [{ provider: 'openai', client: new OpenAiLlmClient(new OpenAI({ maxRetries: 0 })) }],
 *   breakers,
 * });
 */
export const createResilientLlmClient = (options: ResilientLlmClientOptions): LlmClient => {
  const timing = options.timing ?? REAL_TIMING;
  const breakers = options.breakers ?? new CircuitBreakerRegistry({ now: timing.now, ...options.breaker });
  const links: FallbackLink[] = options.links.map((link) => ({
    name: link.model ? `${link.provider}:${link.model}` : link.provider,
    model: link.model,
    client: new RetryingLlmClient(
      new CircuitBreakingLlmClient(link.client, breakers.for(link.provider)),
      options.retry,
      timing,
    ),
  }));
  if (options.ruleBasedFallback ?? true) {
    links.push({ name: RULE_BASED_PROVIDER, client: new RuleBasedLlmClient({ now: timing.now }) });
  }
  return new FallbackLlmClient(links, options.fallback);
};
