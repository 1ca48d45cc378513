// Adapter wiring: the LlmClient a function or the local platform uses, from plain settings. With an
// upstream key: the `openai` SDK behind retries, a circuit breaker and a fallback chain ending in the
// rule-based provider. Without one (the offline `npm start`): the rule-based provider alone, which says so.
// `openAiConnector` builds the same SDK client per provider of the stage's catalogue, for the router.
import OpenAI from 'openai';
import type { CircuitBreakerRegistry } from '../../core/llm/circuit-breaker';
import type { FallbackOptions } from '../../core/llm/fallback-llm-client';
import type { ProviderConnector } from '../../core/llm/provider-router';
import { createResilientLlmClient, type ProviderLink } from '../../core/llm/resilient-llm-client';
import type { RetryOptions } from '../../core/llm/retrying-llm-client';
import { RuleBasedLlmClient } from '../../core/llm/rule-based-provider';
import type { LlmClient } from '../../core/ports/llm-client';
import { TracedLlmClient } from '../../observability/traced-llm-client';
import { tracer } from '../../observability/tracer';
import { OpenAiLlmClient } from './openai-llm-client';

export interface LlmSettings {
  /** The upstream key (Secrets Manager in the cloud, OPENAI_API_KEY locally); absent means offline. */
  apiKey?: string;
  /** Any OpenAI-compatible endpoint (OPENAI_BASE_URL); the SDK's default otherwise. */
  baseURL?: string;
  /** Name in answers, errors and the breaker registry (default `openai`). */
  provider?: string;
  /** Longest single call (default 60 s); each call is also bounded by its deadline. */
  timeoutMs?: number;
  /** Models to try, in order, when the requested one fails (same provider, same key). */
  fallbackModels?: readonly string[];
  retry?: RetryOptions;
  /** Keep at module scope so breaker state survives warm invocations. */
  breakers?: CircuitBreakerRegistry;
  fallback?: FallbackOptions;
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
}

export interface ConfiguredLlmClient {
  client: LlmClient;
  /** For the start-up banner and logs: is a real model behind it? */
  mode: 'upstream' | 'rule-based';
}

/**
 * Builds the LLM client from settings.
 *
 * @example
 * const breakers = new CircuitBreakerRegistry(); // module scope
 * const { client, mode } = createLlmClient({
 *   apiKey: process.env.OPENAI_API_KEY,
 *   baseURL: process.env.OPENAI_BASE_URL,
 *   breakers,
 * });
 */
export const createLlmClient = (settings: LlmSettings = {}): ConfiguredLlmClient => {
  if (!settings.apiKey) return { client: new RuleBasedLlmClient(), mode: 'rule-based' };
  const provider = settings.provider ?? 'openai';
  // maxRetries 0: RetryingLlmClient owns retries (jitter, Retry-After, the deadline).
  const openai = new OpenAI({
    apiKey: settings.apiKey,
    ...(settings.baseURL ? { baseURL: settings.baseURL } : {}),
    maxRetries: 0,
    ...(settings.timeoutMs ? { timeout: settings.timeoutMs } : {}),
  });
  const adapter = new OpenAiLlmClient(openai, {
    provider,
    ...(settings.timeoutMs ? { timeoutMs: settings.timeoutMs } : {}),
    ...(settings.maxTokensField ? { maxTokensField: settings.maxTokensField } : {}),
  });
  const links: ProviderLink[] = [
    { provider, client: adapter },
    ...(settings.fallbackModels ?? []).map((model) => ({ provider, client: adapter, model })),
  ];
  return {
    client: createResilientLlmClient({
      links,
      ...(settings.retry ? { retry: settings.retry } : {}),
      ...(settings.breakers ? { breakers: settings.breakers } : {}),
      ...(settings.fallback ? { fallback: settings.fallback } : {}),
    }),
    mode: 'upstream',
  };
};

/** Where one provider's key and endpoint come from, resolved when it is first used. */
export interface ProviderEndpoint {
  /** Absent or empty: the provider is not configured, and its models answer through the rule-based provider. */
  apiKey?: string;
  /** The catalogue's base URL, or a local override; absent means the SDK's default (api.openai.com). */
  baseURL?: string;
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
}

export interface OpenAiConnectorOptions {
  /** Reads the provider's key (env, or Secrets Manager through its cache) and endpoint; called per request. */
  resolve: (provider: string) => Promise<ProviderEndpoint>;
  /** Longest single call (default 60 s); each call is also bounded by its deadline. */
  timeoutMs?: number;
}

/**
 * The ProviderConnector of the router on the `openai` SDK: one client per provider, with its own key and
 * base URL, retries off (the router's chain owns them). The SDK asks for the key before each request and
 * `resolve` answers again (a secret's key from the Parameters cache, re-read once its max age passed), so a
 * rotated key reaches a warm function; should a later answer have no key, the last one is kept.
 *
 * @example
 * const llm = new ProviderRoutingLlmClient({
 *   catalogue, breakers,
 *   connect: openAiConnector({ resolve: async (provider) => ({ apiKey: await keyOf(provider) }) }),
 * });
 */
export const openAiConnector =
  (options: OpenAiConnectorOptions): ProviderConnector =>
  async (provider) => {
    const endpoint = await options.resolve(provider);
    if (!endpoint.apiKey) return undefined;
    let apiKey = endpoint.apiKey;
    const currentKey = async (): Promise<string> => {
      const again = await options.resolve(provider).catch(() => undefined);
      if (again?.apiKey) apiKey = again.apiKey;
      return apiKey;
    };
    const openai = new OpenAI({
      apiKey: currentKey,
      ...(endpoint.baseURL ? { baseURL: endpoint.baseURL } : {}),
      maxRetries: 0,
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
    const client = new OpenAiLlmClient(openai, {
      provider,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(endpoint.maxTokensField ? { maxTokensField: endpoint.maxTokensField } : {}),
    });
    // One X-Ray subsegment per call to the provider (each retry, each fallback its own), with gen_ai.*.
    return new TracedLlmClient(client, provider, tracer());
  };
