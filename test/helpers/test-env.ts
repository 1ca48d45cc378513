// Test helper: the environment handler modules parse at import. Importing this module applies it
// (without overriding what the caller already set), so `await vi.hoisted(() => import(...))` works.
import { PLANS } from './plans';

export const ADMIN_KEY = 'admin-local-5b2f3c1e9d8a4f7b6c0e1d2a3b4c5d6e';

export const TEST_ENV: Record<string, string> = {
  TENANTIC_STAGE: 'dev',
  TENANTIC_PLANS: JSON.stringify(PLANS),
  TENANTIC_DEFAULT_PLAN: 'free',
  TENANTIC_LLM_PROVIDERS: JSON.stringify({
    openai: {
      models: {
        'gpt-4o-mini': { contextTokens: 128_000, maxOutputTokens: 16_384 },
        'gpt-4o': { contextTokens: 128_000, maxOutputTokens: 16_384 },
      },
    },
  }),
  TENANTIC_DEFAULT_PROVIDER: 'openai',
  TENANTIC_DEFAULT_MODEL: 'gpt-4o-mini',
  TENANTIC_MAX_BODY_BYTES: '4096',
  TENANTS_TABLE: 'test-tenants',
  QUOTAS_TABLE: 'test-quotas',
  SESSIONS_TABLE: 'test-sessions',
  CONNECTIONS_TABLE: 'test-connections',
  CHAT_RUNS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/test-chat-runs',
  TOOL_JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/test-tool-jobs',
  TENANTIC_QUEUE_MAX_RECEIVE_COUNT: '5',
  TENANTIC_QUEUE_VISIBILITY_TIMEOUT: '720',
  FILES_BUCKET: 'test-files',
  ADMIN_API_KEY: ADMIN_KEY,
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  LOG_LEVEL: 'error',
};

for (const [name, value] of Object.entries(TEST_ENV)) process.env[name] ??= value;
