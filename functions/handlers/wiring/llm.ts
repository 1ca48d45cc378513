// Handlers' wiring: the LLM client and the chat use cases' ports with it. Only the functions that call
// the model (catalogue `llm: true`: chat-api, chat-worker) import this module, so only their bundles carry
// the `openai` package (the bundle budget test holds every other function to that).
import { secretsManager } from '../../adapters/aws-clients';
import { openAiConnector, type ProviderEndpoint } from '../../adapters/openai/openai-connector';
import { readSecretKey } from '../../adapters/secrets/secret-key';
import type { RuntimeConfig } from '../../config';
import type { ChatDeps } from '../../core/chat/model';
import { ModelCatalogue } from '../../core/llm/catalogue';
import { CircuitBreakerRegistry, countBreakerTransitions } from '../../core/llm/circuit-breaker';
import { ProviderRoutingLlmClient } from '../../core/llm/provider-router';
import type { LlmClient } from '../../core/ports/llm-client';
import { createLogger } from '../../observability/logger';
import { platformMetrics } from '../../observability/powertools-metrics';
import { ENV, providerEnv } from '../../platform/env';
import { chatPorts } from './chat';
import { runtimeConfig } from './config';

/** Module scope, so a provider's breaker state survives warm invocations. */
const breakers = new CircuitBreakerRegistry({ onStateChange: countBreakerTransitions(platformMetrics()) });
let llm: LlmClient | undefined;

/** The default per-call upstream timeout; each call is also cut at its own deadline. */
const DEFAULT_LLM_TIMEOUT_MS = 20_000;

/**
 * Where a provider's key and base URL come from. Locally: TENANTIC_PROVIDER_<NAME>_API_KEY / _BASE_URL,
 * and for the default provider also OPENAI_API_KEY / OPENAI_BASE_URL. In the cloud: the provider's Secrets
 * Manager secret (TENANTIC_PROVIDER_<NAME>_API_KEY_SECRET_ARN) and the catalogue's base URL. No key at
 * all: that provider's models are answered by the rule-based provider, marked degraded.
 */
export const providerEndpoint = async (
  provider: string,
  from: RuntimeConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProviderEndpoint> => {
  const names = providerEnv(provider);
  const isDefault = provider === from.llm.defaultProvider;
  const spec = from.llm.providers[provider];
  const secretArn = env[names.apiKeySecretArn];
  const apiKey =
    env[names.apiKey] ||
    (isDefault ? env[ENV.llmApiKey] : undefined) ||
    (secretArn ? await readSecretKey(secretsManager(), secretArn) : undefined);
  const baseURL = env[names.baseUrl] || (isDefault ? env[ENV.llmBaseUrl] : undefined) || spec?.baseUrl;
  return {
    ...(apiKey && { apiKey }),
    ...(baseURL && { baseURL }),
    ...(spec?.maxTokensField && { maxTokensField: spec.maxTokensField }),
  };
};

/**
 * The LLM client: routes each request to its model's provider (its key read on that provider's first
 * request, and again once the stage's secrets max age has passed), each provider behind its own breakers
 * and retries, then the model's declared fallbacks, then the rule-based provider; any answer but the
 * requested model's says `degraded`.
 */
export const llmClient = (env: NodeJS.ProcessEnv = process.env): LlmClient => {
  if (!llm) {
    const from = runtimeConfig();
    llm = new ProviderRoutingLlmClient({
      catalogue: new ModelCatalogue(from.llm.providers),
      breakers,
      metrics: platformMetrics(),
      connect: openAiConnector({
        resolve: (provider) => providerEndpoint(provider, from, env),
        timeoutMs: Number(env[ENV.llmTimeoutMs]) || DEFAULT_LLM_TIMEOUT_MS,
      }),
      onConnectError: ({ provider, error }) =>
        createLogger({ service: 'llm' }).error(
          "could not read the key of an LLM provider; its models' fallbacks, else the rule-based provider, answer",
          { provider, error },
        ),
    });
  }
  return llm;
};

/**
 * Everything the chat use cases need. Async for its callers' sake (it once awaited the upstream key); the
 * router reads each provider's key itself, through the secrets cache.
 */
export const chatDeps = async (): Promise<ChatDeps> => chatPorts(llmClient());
