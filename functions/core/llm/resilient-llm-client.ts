// Core: the LLM client a function actually uses, composed from the small decorators: per provider link,
// a circuit breaker (one per provider and model) around retries around the adapter; then a fallback chain
// whose last link is the rule-based provider, so a chat always gets an honest answer.
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

export { CircuitBreakerRegistry } from './circuit-breaker';

export interface ProviderLink {
  /** The provider's name: calls to the same provider and model share one circuit breaker. */
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

/**
 * Builds circuit breaker → retry → provider for each link, chained by a fallback to the rule-based provider.
 * The breaker sits outside the retries, so a call counts once against its circuit however many attempts it
 * made; and it is keyed by provider and model, so a fallback model of the same provider is still tried
 * while the primary model's circuit is open (a whole-provider outage opens each model's circuit in turn).
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
    client: guardProvider(link.provider, link.client, { retry: options.retry, breakers, timing }),
  }));
  if (options.ruleBasedFallback ?? true) {
    links.push({ name: RULE_BASED_PROVIDER, client: new RuleBasedLlmClient({ now: timing.now }) });
  }
  return new FallbackLlmClient(links, options.fallback);
};
