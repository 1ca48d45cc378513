// Platform manifest: the names of every environment variable that the CDK app sets and the runtime reads.
// One list, imported by both sides, so a rename cannot leave one side behind.

export const ENV = {
  stage: 'TENANTIC_STAGE',
  logLevel: 'LOG_LEVEL',
  /** Powertools: the function's catalogue id, the `service` of its logs and metrics. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools Metrics: the namespace of the custom metrics (functions/platform/metrics.ts). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** Powertools Logger: the share of invocations logged at debug level (the stage's `logSampleRate`). */
  logSampleRate: 'POWERTOOLS_LOGGER_SAMPLE_RATE',
  /** Powertools Tracer: `false` where no X-Ray daemon listens (the local platform). */
  traceEnabled: 'POWERTOOLS_TRACE_ENABLED',
  /** Seconds a warm function keeps a secret (provider keys, the admin key) before reading it again. */
  secretsMaxAgeSeconds: 'TENANTIC_SECRETS_MAX_AGE_SECONDS',
  /** JSON of the stage's plans: `{ [plan]: Quotas }` (see functions/core/quotas). */
  plans: 'TENANTIC_PLANS',
  defaultPlan: 'TENANTIC_DEFAULT_PLAN',
  /**
   * JSON of the stage's provider catalogue: `{ [provider]: { baseUrl?, maxTokensField?, models: { [model]:
   * { contextTokens, maxOutputTokens } } } }` (see functions/core/llm/catalogue.ts). Its models are the ones
   * a tenant may use when its record names none.
   */
  llmProviders: 'TENANTIC_LLM_PROVIDERS',
  /** The provider of the stage's default model; the one OPENAI_API_KEY / OPENAI_BASE_URL set locally. */
  defaultProvider: 'TENANTIC_DEFAULT_PROVIDER',
  /** The model a tenant gets when neither it nor its request names one. Locally, a model outside the
   * catalogue joins the default provider (`TENANTIC_DEFAULT_MODEL=qwen2.5 npm start`). */
  defaultModel: 'TENANTIC_DEFAULT_MODEL',
  /** Local: the default provider's base URL (per provider: providerEnv(name).baseUrl). */
  llmBaseUrl: 'OPENAI_BASE_URL',
  /** Local: the default provider's key; absent (and no secret ARN) means the rule-based provider answers. */
  llmApiKey: 'OPENAI_API_KEY',
  /**
   * Longest wait on the upstream LLM in ms (default 20000): a whole call, or in a stream the first chunk and
   * every pause between chunks (a long answer that keeps coming is not cut). Each call's deadline bounds both.
   */
  llmTimeoutMs: 'TENANTIC_LLM_TIMEOUT_MS',
  corsOrigins: 'TENANTIC_CORS_ORIGINS',
  maxBodyBytes: 'TENANTIC_MAX_BODY_BYTES',

  tenantsTable: 'TENANTS_TABLE',
  sessionsTable: 'SESSIONS_TABLE',
  quotasTable: 'QUOTAS_TABLE',
  connectionsTable: 'CONNECTIONS_TABLE',
  idempotencyTable: 'IDEMPOTENCY_TABLE',
  filesBucket: 'FILES_BUCKET',
  chatRunsQueueUrl: 'CHAT_RUNS_QUEUE_URL',
  toolJobsQueueUrl: 'TOOL_JOBS_QUEUE_URL',
  /** Queue consumers only: the redrive maxReceiveCount of the queue they consume (the stage config's). */
  queueMaxReceiveCount: 'TENANTIC_QUEUE_MAX_RECEIVE_COUNT',
  /** Queue consumers only: the visibility timeout (seconds) of the queue they consume. */
  queueVisibilityTimeout: 'TENANTIC_QUEUE_VISIBILITY_TIMEOUT',

  /** Cloud: ARN of the Secrets Manager secret that holds the admin key. */
  adminKeySecretArn: 'ADMIN_KEY_SECRET_ARN',
  /** Local only: the admin key itself (never set in the cloud). */
  adminApiKey: 'ADMIN_API_KEY',
  /** https endpoint of the WebSocket API's @connections management API. */
  wsManagementEndpoint: 'WS_MANAGEMENT_ENDPOINT',
  /** Local only: S3 emulators need path-style addressing. */
  s3ForcePathStyle: 'TENANTIC_S3_FORCE_PATH_STYLE',
} as const;

/** The part of a provider's variable names after `TENANTIC_PROVIDER_`: upper case, `-` as `_`. */
const providerToken = (provider: string): string => provider.toUpperCase().replaceAll('-', '_');

/**
 * The variables of one LLM provider of the catalogue.
 *
 * @example
 * providerEnv('azure-eu').apiKey; // 'TENANTIC_PROVIDER_AZURE_EU_API_KEY'
 */
export const providerEnv = (provider: string) => {
  const prefix = `TENANTIC_PROVIDER_${providerToken(provider)}_`;
  return {
    /** Local: the provider's key itself. */
    apiKey: `${prefix}API_KEY`,
    /** Local: replaces the catalogue's base URL (a local test server, a tunnel). */
    baseUrl: `${prefix}BASE_URL`,
    /** Cloud: ARN of the Secrets Manager secret holding the provider's key (bare, or `{ "key": … }`). */
    apiKeySecretArn: `${prefix}API_KEY_SECRET_ARN`,
  } as const;
};

/** `TENANTIC_PROVIDER_<NAME>_API_KEY_SECRET_ARN`: only LLM functions get these. */
export const PROVIDER_KEY_SECRET_ARN_VAR = /^TENANTIC_PROVIDER_[A-Z][A-Z0-9_]*_API_KEY_SECRET_ARN$/;

/** The per-provider settings a developer may give `npm start` (keys and base URLs). */
export const PROVIDER_LOCAL_VAR = /^TENANTIC_PROVIDER_[A-Z][A-Z0-9_]*_(API_KEY|BASE_URL)$/;
