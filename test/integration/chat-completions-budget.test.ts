// Integration: 200 concurrent chat completions against a small tokens_per_month budget, through the real
// chat-api handler, middleware and DynamoDB adapters on DynamoDB Local (the LLM is an in-process fake
// whose usage varies per call). Both invariants of the ledger: used ≤ limit, and used equals the sum of
// the usage the successful responses reported. Also counts the DynamoDB requests of one completion.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { quotaCounterKey } from '../../functions/adapters/dynamodb/quota-items';
import { DynamoQuotaLedger } from '../../functions/adapters/dynamodb/quota-ledger';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../../functions/adapters/dynamodb/tenant-store';
import { S3BlobStore } from '../../functions/adapters/s3/blob-store';
import { DEFAULT_CHAT_TIMEOUTS } from '../../functions/core/chat/model';
import type { ChatCompletion, ChatRequest } from '../../functions/core/llm/types';
import { systemClock } from '../../functions/core/ports/clock';
import { randomIds } from '../../functions/core/ports/id-generator';
import type { LlmClient } from '../../functions/core/ports/llm-client';
import { counterRef } from '../../functions/core/quotas/ledger-rules';
import { createBuiltinToolRegistry } from '../../functions/core/tools/builtin';
import { TABLES } from '../../functions/platform/tables';
import { countedDocumentClient, dynamoRequestsOf } from '../helpers/dynamo-requests';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';

await vi.hoisted(() => import('../helpers/test-env'));

const { createChatApi } = await import('../../functions/handlers/http/sessions');
const { lambdaContext, loadEvent, memoryLogger, seedSampleTenant } = await import('../helpers/tenant-fakes');
const { sessionSettings } = await import('../helpers/session-fakes');

let dynamo: DynamoDbLocal;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});

afterAll(async () => {
  await dynamo?.stop();
});

/** Answers at once; usage varies with the call number (17..56 tokens), like a real model's would. */
class VaryingUsageLlm implements LlmClient {
  calls = 0;
  async complete(request: ChatRequest): Promise<ChatCompletion> {
    this.calls += 1;
    const completion = 5 + (this.calls % 31);
    return {
      id: `chatcmpl-${this.calls}`,
      created: 1_795_000_000,
      provider: 'fake',
      model: request.model,
      degraded: false,
      message: { role: 'assistant', content: 'ok' },
      finish_reason: 'stop',
      usage: { prompt_tokens: 12, completion_tokens: completion, total_tokens: 12 + completion },
    };
  }
  // biome-ignore lint/correctness/useYield: streaming is not used by this test
  async *stream(): AsyncGenerator<never> {
    throw new Error('not used');
  }
}

const LIMIT = 3_000;

const setup = async (documentClient = dynamo.documentClient) => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  await Promise.all([
    dynamo.createTable(TABLES.tenants, `tenants-budget-${suffix}`),
    dynamo.createTable(TABLES.sessions, `sessions-budget-${suffix}`),
    dynamo.createTable(TABLES.quotas, `quotas-budget-${suffix}`),
  ]);
  const tenants = new DynamoTenantStore(documentClient, `tenants-budget-${suffix}`);
  const sample = await seedSampleTenant(tenants as never);
  await tenants.updateTenant(sample.tenantId, {
    quota_overrides: { tokens_per_month: LIMIT, requests_per_minute: null },
    updated_at: Math.floor(Date.now() / 1000),
  });
  const ledger = new DynamoQuotaLedger(documentClient, `quotas-budget-${suffix}`);
  // As wired in production: run slots, settles and slot releases join the session store's transactions.
  const store = new DynamoSessionStore(
    documentClient,
    `sessions-budget-${suffix}`,
    new S3BlobStore({ send: async () => ({}) } as never, 'unused'),
    { ledger },
  );
  const llm = new VaryingUsageLlm();
  const deps = { store, clock: systemClock, ids: randomIds(systemClock), settings: sessionSettings };
  const chat = {
    ...deps,
    ledger,
    llm,
    tools: createBuiltinToolRegistry(),
    jobs: { enqueue: async () => undefined },
    timeouts: DEFAULT_CHAT_TIMEOUTS,
  };
  const logs = memoryLogger();
  const api = createChatApi(
    { ...deps, tenants, ledger, chat: () => chat },
    { logger: logs.logger, maxBodyBytes: 64 * 1024 },
  );
  const complete = async (maxTokens: number) => {
    const event = loadEvent('chat-api', 'chat-completion');
    event.body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: maxTokens,
    });
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return { statusCode: response.statusCode, json: JSON.parse(response.body) };
  };
  const counter = async () => {
    const ref = counterRef(sample.tenantId, 'tokens_per_month', new Date());
    const { Item } = await dynamo.documentClient.send(
      new GetCommand({
        TableName: `quotas-budget-${suffix}`,
        Key: quotaCounterKey(sample.tenantId, 'tokens_per_month', ref.window),
        ConsistentRead: true,
      }),
    );
    return { used: Number(Item?.used ?? 0), reserved: Number(Item?.reserved ?? 0) };
  };
  const send = async (sessionId: string) => {
    const event = loadEvent('chat-api', 'send-message');
    event.pathParameters.id = sessionId;
    event.rawPath = `/v1/sessions/${sessionId}/messages`;
    event.body = JSON.stringify({ content: 'Hello' });
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return { statusCode: response.statusCode, json: JSON.parse(response.body) };
  };
  const createSession = async () => {
    const event = loadEvent('chat-api', 'create-session');
    event.body = JSON.stringify({});
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return JSON.parse(response.body).id as string;
  };
  return { complete, counter, llm, send, createSession, logLines: logs.lines };
};

/** Runs `tasks` with at most `limit` in flight (DynamoDB Local is exact up to about 50 writers). */
const pool = async <T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> => {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
};

describe('chat completions against a small token budget', () => {
  it('200 concurrent requests: used never passes the limit and equals the usage the responses reported', async () => {
    const { complete, counter, llm } = await setup();

    const responses = await pool(200, 50, () => complete(40));

    const succeeded = responses.filter((response) => response.statusCode === 200);
    const refused = responses.filter((response) => response.statusCode === 429);
    expect(succeeded.length + refused.length).toBe(200);
    expect(succeeded.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((response) => response.json.error.code === 'token_quota_exceeded')).toBe(true);
    const reported = succeeded.reduce((sum, response) => sum + response.json.usage.total_tokens, 0);
    const { used, reserved } = await counter();
    expect(used).toBeLessThanOrEqual(LIMIT);
    expect(used).toBe(reported);
    expect(reserved).toBe(0);
    expect(llm.calls).toBe(succeeded.length);
  });
});

describe('DynamoDB requests per simple turn (counted by SDK middleware; the figure is for BENCHMARKS.md)', () => {
  it('a chat completion and an inline session turn through the whole chat-api stack', async () => {
    const { complete, send, createSession, logLines } = await setup(
      countedDocumentClient(
        new DynamoDBClient({
          endpoint: dynamo.endpoint,
          region: 'eu-west-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
      ),
    );
    const sessionId = await createSession();
    const measure = async (operation: () => Promise<{ statusCode: number }>) =>
      dynamoRequestsOf(async () => expect((await operation()).statusCode).toBe(200));

    const completion = await measure(() => complete(40));
    const turn = await measure(() => send(sessionId));

    console.info(`DynamoDB requests: chat completion ${completion.length} (${completion.join(', ')})`);
    console.info(`DynamoDB requests: inline session turn ${turn.length} (${turn.join(', ')})`);
    // Nothing on these paths may scan: every read is by key.
    expect([...completion, ...turn].filter((name) => name.startsWith('Scan'))).toEqual([]);
    // Issue 3's target: at most 5 per simple turn (the key check, the session with its history, the
    // admission, the run with its slot, the step with its settle and slot release); 3 per completion.
    expect(turn.length).toBeLessThanOrEqual(5);
    expect(completion.length).toBeLessThanOrEqual(3);
    expect(turn.filter((name) => name === 'GetItem')).toEqual([]);
    expect(turn.filter((name) => name === 'Query')).toHaveLength(1);
    // Each request's access log line reports what it asked of DynamoDB: the same figures.
    const access = logLines.filter((line) => line.message === 'request').slice(-2);
    expect(access.map((line) => line.route_key)).toEqual([
      'POST /v1/chat/completions',
      'POST /v1/sessions/{id}/messages',
    ]);
    const operationsOf = (line: (typeof access)[number]) =>
      Object.entries(
        (line.aws_requests as { dynamodb: { operations: Record<string, number> } }).dynamodb.operations,
      )
        .flatMap(([operation, count]) => Array.from({ length: count }, () => operation))
        .sort();
    expect(access.map(operationsOf)).toEqual([completion, turn]);
    // ...and which operations the time on the wire went to, adding up to the total.
    for (const line of access) {
      const { ms, operations, operation_ms } = (
        line.aws_requests as {
          dynamodb: { ms: number; operations: Record<string, number>; operation_ms: Record<string, number> };
        }
      ).dynamodb;
      expect(Object.keys(operation_ms).sort()).toEqual(Object.keys(operations).sort());
      const summed = Object.values(operation_ms).reduce((total, value) => total + value, 0);
      // Each figure is rounded to a tenth of a millisecond in the log line.
      expect(Math.abs(summed - ms)).toBeLessThanOrEqual(0.05 * (Object.keys(operation_ms).length + 1));
    }
  });
});
