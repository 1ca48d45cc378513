// Core: an LlmClient that routes each request to the provider of its model, per the stage's catalogue.
// Each provider is connected lazily (its key read once, on its first request) and gets its own resilient
// chain (circuit breaker per provider and model, retries, then the rule-based provider), so a failing
// provider never slows or trips another. A provider without a key answers through the rule-based provider.
import type { LlmClient } from '../ports/llm-client';
import type { ModelCatalogue } from './catalogue';
import type { CircuitBreakerRegistry } from './circuit-breaker';
import { LlmBadRequestError } from './errors';
import type { FallbackOptions } from './fallback-llm-client';
import { createResilientLlmClient } from './resilient-llm-client';
import type { RetryOptions } from './retrying-llm-client';
import { RuleBasedLlmClient } from './rule-based-provider';
import type { Timing } from './timing';
import type { ChatCompletion, ChatDelta, ChatRequest, LlmCallOptions } from './types';

/**
 * Connects to one provider: its client (retries off, they belong to the chain), or undefined when the
 * provider has no key configured. Called once per provider while it succeeds; a rejection is retried on
 * the provider's next request.
 */
export type ProviderConnector = (provider: string) => Promise<LlmClient | undefined>;

export interface ProviderRouterOptions {
  readonly catalogue: ModelCatalogue;
  readonly connect: ProviderConnector;
  /** Keep at module scope: breaker state then survives warm invocations. Keyed by provider and model. */
  readonly breakers: CircuitBreakerRegistry;
  readonly retry?: RetryOptions;
  readonly fallback?: FallbackOptions;
  readonly timing?: Timing;
  /** Connecting failed (a key that could not be read): the request is answered by the rule-based provider. */
  readonly onConnectError?: (info: { provider: string; error: unknown }) => void;
}

/**
 * Routes by `request.model`. A model outside the catalogue is a 400 `model_not_found` (the use cases check
 * the tenant's models first; this catches a session whose model the stage has since dropped).
 *
 * @example
 * const breakers = new CircuitBreakerRegistry(); // module scope
 * const llm = new ProviderRoutingLlmClient({
 *   catalogue: new ModelCatalogue(config.llm.providers),
 *   connect: async (provider) => openAiClientFor(provider), // undefined when it has no key
 *   breakers,
 * });
 * await llm.complete({ model: 'mistral-small-latest', messages }, { deadlineMs }); // goes to `mistral`
 */
export class ProviderRoutingLlmClient implements LlmClient {
  /** The chain of each provider, once connected; a pending or failed connection is not kept here. */
  private readonly chains = new Map<string, Promise<LlmClient>>();
  private readonly ruleBased: LlmClient;

  constructor(private readonly options: ProviderRouterOptions) {
    this.ruleBased = new RuleBasedLlmClient(options.timing ? { now: options.timing.now } : {});
  }

  /** The provider a model routes to; throws the 400 for a model outside the catalogue. */
  providerOf(model: string): string {
    const provider = this.options.catalogue.providerOf(model);
    if (provider === undefined) {
      throw new LlmBadRequestError(`The model '${model}' is not served by this stage`, {
        code: 'model_not_found',
        param: 'model',
      });
    }
    return provider;
  }

  private chainFor(provider: string): Promise<LlmClient> {
    let chain = this.chains.get(provider);
    if (!chain) {
      chain = this.connectChain(provider);
      this.chains.set(provider, chain);
    }
    return chain;
  }

  private async connectChain(provider: string): Promise<LlmClient> {
    let client: LlmClient | undefined;
    try {
      // In a later microtask, so a connector that throws at once still finds its entry in `chains`.
      client = await Promise.resolve().then(() => this.options.connect(provider));
    } catch (error) {
      // Not cached: the next request to this provider tries again; this one gets an honest degraded answer.
      this.chains.delete(provider);
      this.options.onConnectError?.({ provider, error });
      return this.ruleBased;
    }
    if (!client) return this.ruleBased;
    return createResilientLlmClient({
      links: [{ provider, client }],
      breakers: this.options.breakers,
      ...(this.options.retry ? { retry: this.options.retry } : {}),
      ...(this.options.fallback ? { fallback: this.options.fallback } : {}),
      ...(this.options.timing ? { timing: this.options.timing } : {}),
    });
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    const chain = await this.chainFor(this.providerOf(request.model));
    return chain.complete(request, options);
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    const chain = await this.chainFor(this.providerOf(request.model));
    yield* chain.stream(request, options);
  }
}
