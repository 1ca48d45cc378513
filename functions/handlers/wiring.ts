// Handlers: production wiring, built once per cold start: runtime config, SDK clients and adapters.
import { dynamoDocumentClient, s3, secretsManager, sqs } from '../adapters/aws-clients';
import { DynamoQuotaLedger } from '../adapters/dynamodb/quota-ledger';
import { DynamoRunStreamStore } from '../adapters/dynamodb/run-stream-store';
import { DynamoSessionStore } from '../adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../adapters/dynamodb/tenant-store';
import { DynamoTicketStore } from '../adapters/dynamodb/ticket-store';
import { DynamoUsageReader } from '../adapters/dynamodb/usage-reader';
import { openAiConnector, type ProviderEndpoint } from '../adapters/openai/create-llm-client';
import { S3BlobStore } from '../adapters/s3/blob-store';
import { AdminKeyProvider } from '../adapters/secrets/admin-key';
import { readSecretKey } from '../adapters/secrets/secret-key';
import { SqsJobQueue } from '../adapters/sqs/job-queue';
import { loadConfig, type RuntimeConfig, requireEnv } from '../config';
import { type ChatDeps, DEFAULT_CHAT_TIMEOUTS } from '../core/chat/model';
import { declareModelLimits } from '../core/chat/model-limits';
import { InternalError } from '../core/errors';
import { ModelCatalogue } from '../core/llm/catalogue';
import { CircuitBreakerRegistry, countBreakerTransitions } from '../core/llm/circuit-breaker';
import { ProviderRoutingLlmClient } from '../core/llm/provider-router';
import type { AdminKeyVerifier } from '../core/ports/admin-key';
import { systemClock } from '../core/ports/clock';
import { randomIds } from '../core/ports/id-generator';
import type { JobQueue } from '../core/ports/job-queue';
import type { LlmClient } from '../core/ports/llm-client';
import type { RunStreamStore } from '../core/ports/run-stream-store';
import type { SessionStore } from '../core/ports/session-store';
import type { TenantStore } from '../core/ports/tenant-store';
import type { TicketStore } from '../core/ports/ticket-store';
import type { UsageReader } from '../core/ports/usage-reader';
import type { SessionDeps, SessionSettings } from '../core/sessions/model';
import type { TenantDeps, TenantSettings } from '../core/tenants/model';
import { createBuiltinToolRegistry } from '../core/tools/builtin';
import type { ToolRegistry } from '../core/tools/registry';
import { createLogger } from '../observability/logger';
import { platformMetrics } from '../observability/powertools-metrics';
import { ENV, providerEnv } from '../platform/env';

let config: RuntimeConfig | undefined;
let store: TenantStore | undefined;
let admin: AdminKeyVerifier | undefined;
let usage: UsageReader | undefined;
let sessions: SessionStore | undefined;

/** The tools a tenant may use when its record names none: the built-ins (calculator, current_time). */
export const BUILTIN_TOOLS: readonly string[] = createBuiltinToolRegistry().names();
let ledger: DynamoQuotaLedger | undefined;
let tickets: TicketStore | undefined;

export const runtimeConfig = (): RuntimeConfig => {
  if (!config) {
    config = loadConfig();
    // Context budgets, max_tokens checks and reservations then use the limits the stage declares.
    declareModelLimits(config.llm.providers);
  }
  return config;
};

export const tenantSettings = (from: RuntimeConfig = runtimeConfig()): TenantSettings => ({
  stage: from.stage,
  plans: from.plans,
  defaultPlan: from.defaultPlan,
  allowedModels: from.defaultModels,
  modelOwners: new ModelCatalogue(from.llm.providers).owners(),
});

export const tenantStore = (): TenantStore => {
  store ??= new DynamoTenantStore(dynamoDocumentClient(), requireEnv([ENV.tenantsTable])[ENV.tenantsTable]);
  return store;
};

export const usageReader = (): UsageReader => {
  usage ??= new DynamoUsageReader(dynamoDocumentClient(), requireEnv([ENV.quotasTable])[ENV.quotasTable]);
  return usage;
};

export const sessionSettings = (from: RuntimeConfig = runtimeConfig()): SessionSettings => ({
  tenants: tenantSettings(from),
  defaultModel: from.defaultModel,
  defaultTools: BUILTIN_TOOLS,
});

/** Sessions in DynamoDB, with message bodies too large for an item in the files bucket. */
export const sessionStore = (): SessionStore => {
  if (!sessions) {
    const env = requireEnv([ENV.sessionsTable, ENV.filesBucket]);
    // Where the function may also write the quotas table, a run's slot joins the run's write, and a step's
    // settle (and the last step's slot release) the step's transaction.
    sessions = new DynamoSessionStore(
      dynamoDocumentClient(),
      env[ENV.sessionsTable],
      new S3BlobStore(s3(), env[ENV.filesBucket]),
      process.env[ENV.quotasTable] ? { ledger: quotaLedger() } : {},
    );
  }
  return sessions;
};

export const sessionDeps = (): SessionDeps => ({
  store: sessionStore(),
  clock: systemClock,
  ids: randomIds(systemClock),
  settings: sessionSettings(),
  metrics: platformMetrics(),
});

export const quotaLedger = (): DynamoQuotaLedger => {
  ledger ??= new DynamoQuotaLedger(dynamoDocumentClient(), requireEnv([ENV.quotasTable])[ENV.quotasTable]);
  return ledger;
};

export const tenantDeps = (): TenantDeps => ({
  store: tenantStore(),
  clock: systemClock,
  ids: randomIds(systemClock),
  settings: tenantSettings(),
});

/** ADMIN_API_KEY locally; the Secrets Manager secret in the cloud. */
export const adminKeyVerifier = (env: NodeJS.ProcessEnv = process.env): AdminKeyVerifier => {
  admin ??= new AdminKeyProvider({
    ...(env[ENV.adminApiKey] ? { localKey: env[ENV.adminApiKey] } : {}),
    ...(env[ENV.adminKeySecretArn]
      ? { secretArn: env[ENV.adminKeySecretArn], secrets: secretsManager() }
      : {}),
  });
  return admin;
};

/** Module scope, so a provider's breaker state survives warm invocations. */
const breakers = new CircuitBreakerRegistry({ onStateChange: countBreakerTransitions(platformMetrics()) });
let llm: LlmClient | undefined;
let jobs: JobQueue | undefined;
let tools: ToolRegistry | undefined;

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
 * The LLM client: routes each request to its model's provider (keys read once per container, on that
 * provider's first request), each provider behind its own breakers and retries, then the model's declared
 * fallbacks, then the rule-based provider; any answer but the requested model's says `degraded`.
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

/** `run.execute` jobs go to chat-runs. */
export const chatRunsQueue = (): JobQueue => {
  jobs ??= new SqsJobQueue(sqs(), requireEnv([ENV.chatRunsQueueUrl])[ENV.chatRunsQueueUrl]);
  return jobs;
};

export const toolRegistry = (): ToolRegistry => {
  tools ??= createBuiltinToolRegistry();
  return tools;
};

/**
 * Everything the chat use cases need. Async for its callers' sake (it once awaited the upstream key); the
 * router now reads each provider's key on that provider's first request.
 */
export const chatDeps = async (): Promise<ChatDeps> => ({
  ...sessionDeps(),
  ledger: quotaLedger(),
  llm: llmClient(),
  tools: toolRegistry(),
  jobs: chatRunsQueue(),
  timeouts: DEFAULT_CHAT_TIMEOUTS,
});

/** WebSocket connect tickets, in the connections table. */
export const ticketStore = (): TicketStore => {
  tickets ??= new DynamoTicketStore(
    dynamoDocumentClient(),
    requireEnv([ENV.connectionsTable])[ENV.connectionsTable],
  );
  return tickets;
};

let streams: RunStreamStore | undefined;

/** Runs' event logs and subscriptions (sessions table) and `client_request_id` claims (idempotency table). */
export const runStreamStore = (): RunStreamStore => {
  if (!streams) {
    const env = requireEnv([ENV.sessionsTable, ENV.idempotencyTable]);
    streams = new DynamoRunStreamStore(
      dynamoDocumentClient(),
      env[ENV.sessionsTable],
      env[ENV.idempotencyTable],
    );
  }
  return streams;
};

/** Functions that record and queue runs but never call the model (ws-default) hold no LLM key. */
const noLlm: LlmClient = {
  complete: () => Promise.reject(new InternalError('llm_not_wired', 'this function does not call the LLM')),
  // biome-ignore lint/correctness/useYield: it refuses before yielding anything.
  stream: async function* () {
    throw new InternalError('llm_not_wired', 'this function does not call the LLM');
  },
};

/** The chat use cases' ports without the LLM: enough to record a run and queue it. */
export const queueingChatDeps = (): ChatDeps => ({
  ...sessionDeps(),
  ledger: quotaLedger(),
  llm: noLlm,
  tools: toolRegistry(),
  jobs: chatRunsQueue(),
  timeouts: DEFAULT_CHAT_TIMEOUTS,
});
