// Integration: long sessions on DynamoDB Local through the real chat-api handler and adapters. A turn of a
// 300-message session makes the same DynamoDB requests as a fresh session's turn; the compaction it asks for
// is fenced (one in flight), runs through the chat-runs job worker, sets `summarized_through` and charges
// the tenant; offline (the rule-based provider), the session says its older turns were truncated.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LedgeredSessionStore } from '../../functions/adapters/dynamodb/ledgered-session-store';
import { quotaCounterKey } from '../../functions/adapters/dynamodb/quota-items';
import { DynamoQuotaLedger } from '../../functions/adapters/dynamodb/quota-ledger';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../../functions/adapters/dynamodb/tenant-store';
import { S3BlobStore } from '../../functions/adapters/s3/blob-store';
import { compactSessionJob, requestCompactionIfDue } from '../../functions/core/chat/compact-session';
import { DEFAULT_CHAT_TIMEOUTS } from '../../functions/core/chat/model';
import { WINDOW_MESSAGES } from '../../functions/core/chat/session-window';
import { createJobRegistry } from '../../functions/core/jobs/registry';
import type { JobEnvelope } from '../../functions/core/jobs/schemas';
import type { ChatCompletion, ChatRequest } from '../../functions/core/llm/types';
import { systemClock } from '../../functions/core/ports/clock';
import { randomIds } from '../../functions/core/ports/id-generator';
import type { LlmClient } from '../../functions/core/ports/llm-client';
import { counterRef } from '../../functions/core/quotas/ledger-rules';
import { appendMessages } from '../../functions/core/sessions/append-messages';
import { createBuiltinToolRegistry } from '../../functions/core/tools/builtin';
import { createJobWorker } from '../../functions/handlers/workers/job-worker';
import { TABLES } from '../../functions/platform/tables';
import { countedDocumentClient, dynamoRequestsOf } from '../helpers/dynamo-requests';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';

await vi.hoisted(() => import('../helpers/test-env'));

const { createChatApi } = await import('../../functions/handlers/chat-api');
const { lambdaContext, loadEvent, memoryLogger, seedSampleTenant } = await import('../helpers/tenant-fakes');
const { sessionSettings } = await import('../helpers/session-fakes');

let dynamo: DynamoDbLocal;

beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});

afterAll(async () => {
  await dynamo?.stop();
});

const SUMMARY = 'The user asked 150 questions about the weather; all were answered.';

/** Answers turns with 'ok' and the summarizer with SUMMARY; `provider` may be the rule-based one (offline). */
class FakeLlm implements LlmClient {
  readonly requests: ChatRequest[] = [];
  constructor(private readonly provider: string = 'fake') {}
  async complete(request: ChatRequest): Promise<ChatCompletion> {
    this.requests.push(request);
    const summarizing = String(request.messages[0]?.content).startsWith('You keep the running summary');
    return {
      id: `chatcmpl-${this.requests.length}`,
      created: 1_795_000_000,
      provider: this.provider,
      model: request.model,
      degraded: this.provider !== 'fake',
      message: { role: 'assistant', content: summarizing ? SUMMARY : 'ok' },
      finish_reason: 'stop',
      usage: { prompt_tokens: 40, completion_tokens: 10, total_tokens: 50 },
    };
  }
  // biome-ignore lint/correctness/useYield: streaming is not used by this test
  async *stream(): AsyncGenerator<never> {
    throw new Error('not used');
  }
}

const setup = async (provider = 'fake') => {
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  await Promise.all([
    dynamo.createTable(TABLES.tenants, `tenants-ctx-${suffix}`),
    dynamo.createTable(TABLES.sessions, `sessions-ctx-${suffix}`),
    dynamo.createTable(TABLES.quotas, `quotas-ctx-${suffix}`),
  ]);
  const documentClient = countedDocumentClient(
    new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  const tenants = new DynamoTenantStore(documentClient, `tenants-ctx-${suffix}`);
  const sample = await seedSampleTenant(tenants as never);
  await tenants.updateTenant(sample.tenantId, {
    quota_overrides: { tokens_per_month: 1_000_000, requests_per_minute: null },
    updated_at: Math.floor(Date.now() / 1000),
  });
  const ledger = new DynamoQuotaLedger(documentClient, `quotas-ctx-${suffix}`);
  const store = new LedgeredSessionStore(
    documentClient,
    new DynamoSessionStore(
      documentClient,
      `sessions-ctx-${suffix}`,
      new S3BlobStore({ send: async () => ({}) } as never, 'unused'),
    ),
    ledger,
  );
  const llm = new FakeLlm(provider);
  const queued: JobEnvelope[] = [];
  const deps = { store, clock: systemClock, ids: randomIds(systemClock), settings: sessionSettings };
  const chat = {
    ...deps,
    ledger,
    llm,
    tools: createBuiltinToolRegistry(),
    jobs: {
      enqueue: async (envelope: JobEnvelope) => {
        queued.push(envelope);
      },
    },
    timeouts: DEFAULT_CHAT_TIMEOUTS,
  };
  const logs = memoryLogger();
  const api = createChatApi({ ...deps, tenants, ledger, chat: () => chat }, { logger: logs.logger });
  const call = async (name: string, sessionId: string, body?: unknown, query?: Record<string, string>) => {
    const event = loadEvent('chat-api', name);
    event.pathParameters = { ...event.pathParameters, id: sessionId };
    event.rawPath = event.rawPath.replace(/ses_[0-9a-z]+/, sessionId);
    if (body !== undefined) event.body = JSON.stringify(body);
    if (query) {
      event.queryStringParameters = query;
      event.rawQueryString = new URLSearchParams(query).toString();
    }
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return { statusCode: response.statusCode, json: JSON.parse(response.body) };
  };
  const createSession = async () => {
    const event = loadEvent('chat-api', 'create-session');
    event.body = '{}';
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return JSON.parse(response.body).id as string;
  };
  /** A session of `count` messages, user and assistant in turn, appended 50 at a time. */
  const longSession = async (count: number) => {
    const id = await createSession();
    for (let start = 0; start < count; start += 50) {
      await appendMessages(deps, sample.tenantId, id, {
        append_id: `seed-${start}`,
        messages: Array.from({ length: Math.min(50, count - start) }, (_, at) =>
          (start + at) % 2 === 0
            ? { role: 'user' as const, content: `What is the weather on day ${start + at}?` }
            : { role: 'assistant' as const, content: `Sunny on day ${start + at - 1}.` },
        ),
      });
    }
    return id;
  };
  const worker = createJobWorker('chat-runs', {
    registry: createJobRegistry([
      compactSessionJob(
        () => chat,
        () => tenants,
      ),
    ]),
    logger: logs.logger,
  });
  /** Delivers the queued jobs to the chat-runs worker, as SQS would. */
  const deliver = async () => {
    const event: SQSEvent = {
      Records: queued.splice(0).map((envelope, index) => ({
        messageId: `m-${index}`,
        receiptHandle: `h-${index}`,
        body: JSON.stringify(envelope),
        attributes: { ApproximateReceiveCount: '1' } as never,
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:chat-runs',
        awsRegion: 'eu-west-1',
      })),
    };
    return worker(event, lambdaContext() as never);
  };
  const tokensUsed = async () => {
    const ref = counterRef(sample.tenantId, 'tokens_per_month', new Date());
    const { Item } = await dynamo.documentClient.send(
      new GetCommand({
        TableName: `quotas-ctx-${suffix}`,
        Key: quotaCounterKey(sample.tenantId, 'tokens_per_month', ref.window),
        ConsistentRead: true,
      }),
    );
    return { used: Number(Item?.used ?? 0), reserved: Number(Item?.reserved ?? 0) };
  };
  const send = (sessionId: string, content = 'And tomorrow?') => call('send-message', sessionId, { content });
  return {
    api,
    call,
    chat,
    createSession,
    deliver,
    llm,
    longSession,
    queued,
    sample,
    send,
    store,
    tokensUsed,
  };
};

const measure = async (operation: () => Promise<{ statusCode: number }>) =>
  dynamoRequestsOf(async () => expect((await operation()).statusCode).toBe(200));

describe('a long session costs a turn what a fresh one does', () => {
  it('300 messages: the same DynamoDB requests per turn as a first turn; the turn that asks for compaction adds its fence', async () => {
    const { createSession, deliver, llm, longSession, queued, sample, send, store } = await setup();
    const long = await longSession(300);
    // The tenant and the session are known from here on (chat-api remembers a session's first step's
    // worst case): every measured turn is admitted early, the same way. The first long turn asks for a
    // compaction, which the worker then runs.
    await send(await createSession());
    await send(long);
    await deliver();

    const fresh = await measure(async () => send(await createSession()));
    const longTurns = [
      await measure(() => send(long)),
      await measure(() => send(long)),
      await measure(() => send(long)),
    ];

    for (const turn of longTurns) expect(turn).toEqual(fresh);
    expect(fresh.filter((name) => name === 'Query')).toHaveLength(1);
    expect(queued).toEqual([]);
    // What the model saw: the summary and the newest messages, not 300 of them.
    const lastTurn = llm.requests.at(-1) as ChatRequest;
    expect(lastTurn.messages.length).toBeLessThanOrEqual(WINDOW_MESSAGES + 2);

    // Another long session, known to chat-api, whose older turns fell out unsummarized: its turn fences
    // the session with one conditional write (beside the LLM call) and queues one job; the next turn finds
    // the fence and costs exactly a first turn.
    const other = await longSession(300);
    const held = { request_id: 'compact:held', before: 'msg_0', requested_at: Math.floor(Date.now() / 1000) };
    await store.requestCompaction(sample.tenantId, other, held, 0);
    await send(other);
    await store.completeCompaction(sample.tenantId, other, held.request_id, undefined);
    const asking = await measure(() => send(other));
    const fenced = await measure(() => send(other));

    expect(asking).toEqual([...fresh, 'UpdateItem'].sort());
    expect(queued.map((job) => job.type)).toEqual(['session.compact']);
    expect(fenced).toEqual(fresh);
    expect(queued).toHaveLength(1);
  });
});

describe('compaction', () => {
  it('runs through the chat-runs worker: summarized_through is set, the tenant is charged, the next turn reads the summary', async () => {
    const { call, deliver, llm, longSession, queued, send, tokensUsed } = await setup();
    const long = await longSession(300);
    await send(long);
    expect(queued).toHaveLength(1);
    const before = String(queued[0]?.payload.before);
    const pending = await call('get-session', long);
    expect(pending.json.context).toMatchObject({
      strategy: 'full',
      summarized_through: null,
      compacting: true,
    });
    const usedBefore = await tokensUsed();

    let result: unknown;
    const workerRequests = await dynamoRequestsOf(async () => {
      result = await deliver();
    });

    expect(result).toEqual({ batchItemFailures: [] });
    // The tenant, the session (its fence and summary so far), one page of older messages, the hold, its
    // settle, and the summary with the fence lifted.
    expect(workerRequests).toEqual(['GetItem', 'GetItem', 'Query', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
    const summarized = await call('get-session', long);
    expect(summarized.json.context).toMatchObject({ strategy: 'summarized', compacting: false });
    const through = summarized.json.context.summarized_through as string;
    expect(through < before).toBe(true);
    // The summarizer's tokens are the tenant's, settled like a turn's.
    expect(await tokensUsed()).toEqual({ used: usedBefore.used + 50, reserved: 0 });
    // The next turn shows the model the summary, then only the messages after it.
    await send(long);
    const turn = llm.requests.at(-1) as ChatRequest;
    expect(turn.messages.some((message) => String(message.content).includes(SUMMARY))).toBe(true);
    expect(turn.messages.length).toBeLessThanOrEqual(WINDOW_MESSAGES + 2);
  });

  it('nothing is deleted: every message of the session is still listed', async () => {
    const { call, deliver, longSession, send } = await setup();
    const long = await longSession(120);
    await send(long);
    await deliver();

    let listed = 0;
    let after: string | undefined;
    do {
      const page = await call('list-messages', long, undefined, {
        limit: '100',
        order: 'asc',
        ...(after && { after }),
      });
      listed += page.json.data.length;
      after = page.json.next_cursor;
    } while (after);
    expect(listed).toBe(122);
  });

  it('a concurrent second request is fenced: one job in flight per session', async () => {
    const { chat, longSession, queued, sample, store } = await setup();
    const long = await longSession(200);
    const session = await store.getSession(sample.tenantId, long);
    if (!session) throw new Error('seeded session missing');
    const messages = await store.listMessages(sample.tenantId, long, { limit: 40, order: 'desc' });
    const [newer, older] = [messages.items[10]?.id, messages.items[30]?.id] as [string, string];

    const asked = await Promise.all([
      requestCompactionIfDue(chat, sample.tenantId, session, newer),
      requestCompactionIfDue(chat, sample.tenantId, session, older),
    ]);

    expect(asked.filter(Boolean)).toHaveLength(1);
    expect(queued).toHaveLength(1);
    const fenced = await store.getSession(sample.tenantId, long);
    expect(fenced?.compaction?.request_id).toBe(queued[0]?.id);

    // The edge only moves forward: a result behind the stored one is refused, and nothing is written.
    const requestId = queued[0]?.id as string;
    const context = (through: string) => ({
      strategy: 'summarized' as const,
      summary: `through ${through}`,
      summarized_through: through,
      truncated_through: null,
      updated_at: 1,
    });
    const newest = messages.items[5]?.id as string;
    expect(await store.completeCompaction(sample.tenantId, long, requestId, context(newest))).toBe(true);
    const again = { request_id: 'compact:again', before: newer, requested_at: 0 };
    expect(await store.requestCompaction(sample.tenantId, long, again, 1)).toBe(true);
    expect(await store.completeCompaction(sample.tenantId, long, 'compact:other', context(newest))).toBe(
      false,
    );
    expect(await store.completeCompaction(sample.tenantId, long, again.request_id, context(older))).toBe(
      false,
    );
    const kept = await store.getSession(sample.tenantId, long);
    expect(kept?.context).toMatchObject({ summarized_through: newest, summary: `through ${newest}` });
    expect(kept?.compaction?.request_id).toBe(again.request_id);
  });

  it('offline (the rule-based provider answers): the older turns are marked truncated, and nothing is charged', async () => {
    const { call, deliver, longSession, queued, send, tokensUsed } = await setup('rule-based');
    const long = await longSession(300);
    await send(long);
    expect(queued).toHaveLength(1);
    const usedBefore = await tokensUsed();

    await deliver();

    const session = await call('get-session', long);
    expect(session.json.context).toMatchObject({
      strategy: 'truncated',
      summarized_through: null,
      compacting: false,
    });
    expect(session.json.context.truncated_through).toMatch(/^msg_/);
    expect(await tokensUsed()).toEqual(usedBefore);
  });
});
