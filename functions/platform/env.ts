// Platform manifest: the names of every environment variable that the CDK app sets and the runtime reads.
// One list, imported by both sides, so a rename cannot leave one side behind.

export const ENV = {
  stage: 'TENANTIC_STAGE',
  logLevel: 'LOG_LEVEL',
  /** JSON of the stage's plans: `{ [plan]: Quotas }` (see functions/core/quotas). */
  plans: 'TENANTIC_PLANS',
  defaultPlan: 'TENANTIC_DEFAULT_PLAN',
  /** Comma-separated list of model ids a tenant may use when its record names none. */
  defaultModels: 'TENANTIC_DEFAULT_MODELS',
  defaultModel: 'TENANTIC_DEFAULT_MODEL',
  llmBaseUrl: 'OPENAI_BASE_URL',
  /** Local: the upstream LLM key itself; absent (and no secret ARN) means the rule-based provider. */
  llmApiKey: 'OPENAI_API_KEY',
  /** Cloud: ARN of the Secrets Manager secret holding the upstream LLM key (bare, or JSON `{ "key": … }`). */
  llmApiKeySecretArn: 'OPENAI_API_KEY_SECRET_ARN',
  /** Longest single upstream LLM call in ms (default 20000); each call is also bounded by its deadline. */
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

export type EnvName = (typeof ENV)[keyof typeof ENV];
