// Core: an LlmClient that routes each request to the provider of its model, per the stage's catalogue, and
// falls back along the model's declared fallbacks (each on its own provider), then to the rule-based
// provider. Each provider is connected lazily (its key read once, on the first call that needs it) and
// guarded once (breakers per provider and model, retries), so a failing provider never slows or trips
// another. A provider without a key is skipped: the next link of the chain answers.
import type { LlmClient } from '../ports/llm-client';
import type { PlatformMetrics } from '../ports/platform-metrics';
import type { ModelCatalogue, ModelSpec } from './catalogue';
import type { CircuitBreakerRegistry } from './circuit-breaker';
import { LlmBadRequestError, LlmUnavailableError } from './errors';
import { type FallbackLink, FallbackLlmClient, type FallbackOptions } from './fallback-llm-client';
import { guardProvider } from './guard-provider';
import { MeteredLlmClient } from './metered-llm-client';
import type { RetryOptions } from './retrying-llm-client';
import { RULE_BASED_PROVIDER, RuleBasedLlmClient } from './rule-based-provider';
import type { Timing } from './timing';
import { estimatePromptTokens } from './token-estimate';
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
  /** Connecting failed (a key that could not be read): the chain's next link answers the request. */
  readonly onConnectError?: (info: { provider: string; error: unknown }) => void;
  /** Told of each answer (model, provider, degraded, tokens, latency) and each fallback taken. */
  readonly metrics?: PlatformMetrics;
}

/**
 * A fallback model gets the request the caller's model was checked and charged for, with `max_tokens`
 * lowered (never raised) to what it may produce and what its context window leaves after the prompt: the
 * token reservation (prompt bound + max_tokens) then still bounds its usage, and a smaller model is not
 * sent a request it must refuse as too long. A prompt that alone fills its window skips it.
 */
const fitRequest = (model: string, spec: ModelSpec, request: ChatRequest): ChatRequest => {
  const room = spec.contextTokens - estimatePromptTokens(request);
  if (room < 1) {
    throw new LlmUnavailableError(
      `the conversation does not fit the context window of the fallback model ${model} (${spec.contextTokens} tokens)`,
      { code: 'llm_fallback_too_small', retryable: false },
    );
  }
  if (request.max_tokens === undefined) return request;
  const maxTokens = Math.min(request.max_tokens, spec.maxOutputTokens, room);
  return maxTokens === request.max_tokens ? request : { ...request, max_tokens: maxTokens };
};

/**
 * Routes by `request.model`. A model outside the catalogue is a 400 `model_not_found` (the use cases check
 * the tenant's models first; this catches a session whose model the stage has since dropped). A request for
 * model M tries M on its provider, then each of M's `fallbacks` on theirs, then the rule-based provider;
 * any answer but M's own is `degraded`. Fallbacks are the stage's reliability policy: they need not be
 * among the tenant's models (the tenant asked for M, and the use cases checked M).
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
  /** Each provider's guarded client once connected (undefined: no key); a failed connection is not kept. */
  private readonly providers = new Map<string, Promise<LlmClient | undefined>>();
  /** The fallback chain of each requested model, built on its first request. */
  private readonly chains = new Map<string, LlmClient>();
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

  private providerClient(provider: string): Promise<LlmClient | undefined> {
    let client = this.providers.get(provider);
    if (!client) {
      client = this.connectProvider(provider);
      this.providers.set(provider, client);
    }
    return client;
  }

  private async connectProvider(provider: string): Promise<LlmClient | undefined> {
    let client: LlmClient | undefined;
    try {
      // In a later microtask, so a connector that throws at once still finds its entry in `providers`.
      client = await Promise.resolve().then(() => this.options.connect(provider));
    } catch (error) {
      // Not cached: the next request to this provider tries again; this one goes down the chain.
      this.providers.delete(provider);
      this.options.onConnectError?.({ provider, error });
      return undefined;
    }
    if (!client) return undefined;
    return guardProvider(provider, client, {
      breakers: this.options.breakers,
      retry: this.options.retry,
      timing: this.options.timing,
    });
  }

  /** One link: `model` on its provider, connected when the link is first tried. */
  private link(model: string, fallback: boolean): FallbackLink {
    const provider = this.providerOf(model);
    const spec = this.options.catalogue.entry(model)?.spec;
    const ready = async (request: ChatRequest): Promise<[LlmClient, ChatRequest]> => {
      const fitted = fallback && spec ? fitRequest(model, spec, request) : request;
      const client = await this.providerClient(provider);
      if (!client) {
        throw new LlmUnavailableError(`the ${provider} provider has no key`, {
          provider,
          code: 'llm_provider_unconfigured',
          retryable: false,
        });
      }
      return [client, fitted];
    };
    return {
      name: `${provider}:${model}`,
      // The primary link keeps the request as the caller made it.
      ...(fallback && { model }),
      client: {
        complete: async (request, options) => {
          const [client, fitted] = await ready(request);
          return client.complete(fitted, options);
        },
        stream: async function* (request, options) {
          const [client, fitted] = await ready(request);
          yield* client.stream(fitted, options);
        },
      },
    };
  }

  /** The caller's fallback hook, and a fallback taken counted against the model that could not answer. */
  private fallbackOptions(): FallbackOptions | undefined {
    const { metrics, fallback } = this.options;
    if (!metrics) return fallback;
    return {
      onFallback: (info) => {
        const provider = this.options.catalogue.providerOf(info.model);
        if (provider) metrics.fallbackTaken({ tenantId: info.user, model: info.model, provider });
        fallback?.onFallback?.(info);
      },
    };
  }

  private chainFor(model: string): LlmClient {
    let chain = this.chains.get(model);
    if (!chain) {
      // The catalogue schema refuses a fallback outside it; a hand-built catalogue's is skipped, not a 400.
      const fallbacks = this.options.catalogue
        .fallbacksOf(model)
        .filter((fallback) => this.options.catalogue.providerOf(fallback) !== undefined);
      chain = new FallbackLlmClient(
        [
          this.link(model, false),
          ...fallbacks.map((fallback) => this.link(fallback, true)),
          { name: RULE_BASED_PROVIDER, client: this.ruleBased },
        ],
        this.fallbackOptions(),
      );
      const metrics = this.options.metrics;
      if (metrics) chain = new MeteredLlmClient(chain, metrics, this.options.timing?.now);
      this.chains.set(model, chain);
    }
    return chain;
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    return this.chainFor(request.model).complete(request, options);
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    yield* this.chainFor(request.model).stream(request, options);
  }
}
