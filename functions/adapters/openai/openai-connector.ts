// Adapter wiring: the ProviderConnector of the router on the `openai` SDK, one client per provider of the
// stage's catalogue, its own retries off (OPENAI_SDK_MAX_RETRIES: the router's chain owns them).
import OpenAI from 'openai';
import type { ProviderConnector } from '../../core/llm/provider-router';
import { OPENAI_SDK_MAX_RETRIES } from '../../core/resilience/retry-policy';
import { TracedLlmClient } from '../../observability/traced-llm-client';
import { tracer } from '../../observability/tracer';
import { OpenAiLlmClient } from './openai-llm-client';

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
      maxRetries: OPENAI_SDK_MAX_RETRIES,
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
