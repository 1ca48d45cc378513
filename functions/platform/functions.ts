// Platform manifest: every Lambda function, its entry module and exactly what it may touch.
// The CDK app turns `tables`/`queues`/`bucket`/... into least-privilege grants and environment
// variables; the local platform reads the same facts back out of the synthesized template.
import type { QueueName } from './queues';
import type { TableName } from './tables';

export type Access = 'read' | 'readWrite';

export interface FunctionDefinition {
  /** Module path from the repository root; bundled by esbuild in the cloud, imported as is locally. */
  readonly entry: string;
  /** Exported handler name (default `handler`). */
  readonly handler?: string;
  readonly description: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly tables?: Partial<Record<TableName, Access>>;
  /** `send`: may enqueue; `consume`: is the queue's event-source consumer. */
  readonly queues?: Partial<Record<QueueName, 'send' | 'consume'>>;
  readonly bucket?: Access;
  /** Reads the admin key (Secrets Manager in the cloud, ADMIN_API_KEY locally). */
  readonly adminKey?: boolean;
  /** Posts frames to WebSocket clients through the @connections management API. */
  readonly wsManagement?: boolean;
  /**
   * Calls the LLM providers: reads each provider's key (in the cloud the Secrets Manager secret named by
   * TENANTIC_PROVIDER_<NAME>_API_KEY_SECRET_ARN; locally TENANTIC_PROVIDER_<NAME>_API_KEY, or OPENAI_API_KEY
   * for the default provider). Only these functions may read those secrets.
   */
  readonly llm?: boolean;
}

export const FUNCTIONS = {
  'authorizer-http': {
    entry: 'functions/handlers/authorizer-http.ts',
    description: 'HTTP API REQUEST authorizer: resolves a bearer key to a tenant or the admin',
    timeoutSeconds: 5,
    memoryMb: 512,
    tables: { tenants: 'read' },
    adminKey: true,
  },
  'authorizer-ws': {
    entry: 'functions/handlers/authorizer-ws.ts',
    description: 'WebSocket $connect REQUEST authorizer: bearer key (or ticket) to a tenant',
    timeoutSeconds: 5,
    memoryMb: 512,
    // connections readWrite: a `?ticket=` is redeemed by deleting it (a conditional DeleteItem).
    tables: { tenants: 'read', connections: 'readWrite' },
  },
  'tenants-api': {
    entry: 'functions/handlers/tenants-api.ts',
    description: 'Admin routes: tenants and their API keys',
    timeoutSeconds: 10,
    memoryMb: 512,
    tables: { tenants: 'readWrite' },
  },
  'account-api': {
    entry: 'functions/handlers/account-api.ts',
    description: 'Tenant routes: models, usage and WebSocket tickets',
    timeoutSeconds: 10,
    memoryMb: 512,
    // quotas readWrite: every tenant request is counted against requests_per_minute.
    // connections readWrite: `POST /v1/ws-tickets` writes the (hashed) ticket there.
    tables: { tenants: 'read', quotas: 'readWrite', connections: 'readWrite' },
  },
  'chat-api': {
    entry: 'functions/handlers/chat-api.ts',
    description: 'Tenant routes: sessions, messages, runs and OpenAI-compatible chat completions',
    // API Gateway's HTTP API gives up at 30 s. Inline runs hand off to the queue at 20 s and chat
    // completions give the model 25 s (core/chat/model.ts), leaving time to record, settle and answer.
    timeoutSeconds: 29,
    memoryMb: 1024,
    tables: { tenants: 'read', sessions: 'readWrite', quotas: 'readWrite' },
    queues: { chatRuns: 'send' },
    bucket: 'readWrite',
    llm: true,
  },
  'openapi-doc': {
    entry: 'functions/handlers/openapi-doc.ts',
    description: 'Public route: the OpenAPI 3.1 document generated from the zod schemas',
    timeoutSeconds: 5,
    memoryMb: 256,
  },
  'ws-connect': {
    entry: 'functions/handlers/ws-connect.ts',
    description: 'WebSocket $connect: takes a concurrent_connections slot, records the connection with a TTL',
    timeoutSeconds: 5,
    memoryMb: 512,
    // tenants: the tenant's plan and overrides give its concurrent_connections limit; quotas: the slot.
    tables: { connections: 'readWrite', tenants: 'read', quotas: 'readWrite' },
  },
  'ws-disconnect': {
    entry: 'functions/handlers/ws-disconnect.ts',
    description: 'WebSocket $disconnect: removes the connection record and frees its connection slot',
    timeoutSeconds: 5,
    memoryMb: 256,
    tables: { connections: 'readWrite', quotas: 'readWrite' },
  },
  'ws-default': {
    entry: 'functions/handlers/ws-default.ts',
    description: 'WebSocket actions: ping, chat (queues a streamed run), resume, cancel; errors as frames',
    timeoutSeconds: 10,
    memoryMb: 512,
    // tenants: the key's standing is re-checked per frame. It answers on the caller's own connection id,
    // which the event carries, so it never reads the connections table. sessions: the run, the user's
    // message, the run's event log and subscriptions; quotas: requests_per_minute and the token budget;
    // idempotency: `client_request_id` claims; chatRuns: the run's job. It never calls the LLM (no key).
    tables: { tenants: 'read', sessions: 'readWrite', quotas: 'readWrite', idempotency: 'readWrite' },
    queues: { chatRuns: 'send' },
    // A user message too large for an item goes to the files bucket.
    bucket: 'readWrite',
    wsManagement: true,
  },
  'chat-worker': {
    entry: 'functions/handlers/chat-worker.ts',
    description: 'Consumes chat-runs: continues agent runs off the request path',
    timeoutSeconds: 120,
    memoryMb: 1024,
    tables: {
      tenants: 'read',
      sessions: 'readWrite',
      quotas: 'readWrite',
      connections: 'read',
      idempotency: 'readWrite',
    },
    queues: { chatRuns: 'consume' },
    // Message bodies too large for an item live in the files bucket: a run reads and writes them.
    bucket: 'readWrite',
    wsManagement: true,
    llm: true,
  },
  'tool-worker': {
    entry: 'functions/handlers/tool-worker.ts',
    description: 'Consumes tool-jobs: runs queued tool invocations with retries',
    timeoutSeconds: 60,
    memoryMb: 1024,
    tables: { tenants: 'read', sessions: 'readWrite', quotas: 'readWrite', idempotency: 'readWrite' },
    queues: { toolJobs: 'consume' },
  },
} as const satisfies Record<string, FunctionDefinition>;

export type FunctionId = keyof typeof FUNCTIONS;
