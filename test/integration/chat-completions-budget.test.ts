// Integration: 200 concurrent chat completions against a small tokens_per_month budget, through the real
// chat-api handler, middleware and DynamoDB adapters on DynamoDB Local (the LLM is an in-process fake
// whose usage varies per call). Both invariants of the ledger: used ≤ limit, and used equals the sum of
// the usage the successful responses reported. Also counts the DynamoDB requests of one completion and
// of an inline session turn, and checks the early admission of an inline turn and of a completion (taken
// beside the key's re-check) end to end: what it holds, when it gives everything back, and the same
// invariants under 200 concurrent requests.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LedgeredSessionStore } from '../../functions/adapters/dynamodb/ledgered-session-store';
import { QuotaItemSchema, quotaCounterKey, requestsIn } from '../../functions/adapters/dynamodb/quota-items';
import { DynamoQuotaLedger } from '../../functions/adapters/dynamodb/quota-ledger';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../../functions/adapters/dynamodb/tenant-store';
import { S3BlobStore } from '../../functions/adapters/s3/blob-store';
import { earlyCompletionTokens } from '../../functions/core/chat/create-chat-completion';
import { earlyReservationTokens } from '../../functions/core/chat/early-admission';
import { DEFAULT_CHAT_TIMEOUTS } from '../../functions/core/chat/model';
import { LlmUnavailableError } from '../../functions/core/llm/errors';
import type { ChatCompletion, ChatRequest } from '../../functions/core/llm/types';
import { type Clock, systemClock } from '../../functions/core/ports/clock';
import { randomIds } from '../../functions/core/ports/id-generator';
import type { LlmClient } from '../../functions/core/ports/llm-client';
import type { GrowRequest, Hold, HoldRequest, ReleaseOptions } from '../../functions/core/ports/quota-ledger';
import type { SessionStore } from '../../functions/core/ports/session-store';
import { counterRef } from '../../functions/core/quotas/ledger-rules';
import type { QuotaOverrides } from '../../functions/core/quotas/schemas';
import { createBuiltinToolRegistry } from '../../functions/core/tools/builtin';
import { TABLES } from '../../functions/platform/tables';
import { countedDocumentClient, dynamoRequestsOf } from '../helpers/dynamo-requests';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';

await vi.hoisted(() => import('../helpers/test-env'));

const { createChatApi } = await import('../../functions/handlers/chat-api');
const { lambdaContext, loadEvent, manualClock, memoryLogger, seedSampleTenant } = await import(
  '../helpers/tenant-fakes'
);
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
  /** The next call fails as a provider outage would (502). */
  failNext = false;
  async complete(request: ChatRequest): Promise<ChatCompletion> {
    if (this.failNext) {
      this.failNext = false;
      throw new LlmUnavailableError('the fake provider is down', { provider: 'fake', retryable: false });
    }
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

const completionBody = (maxTokens: number) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hello' }],
  max_tokens: maxTokens,
});

interface SetupOptions {
  readonly documentClient?: DynamoDBDocumentClient;
  /** The tenant's quota overrides (default: this budget, requests unlimited). */
  readonly overrides?: QuotaOverrides;
  readonly clock?: Clock;
  /** Slows the key's re-check by this much, so what runs beside it is seen to start first. */
  readonly recheckDelayMs?: number;
  readonly maxBodyBytes?: number;
  /** What the functions see of the session store (default: the DynamoDB store itself). */
  readonly sessionStore?: (store: SessionStore) => SessionStore;
}

const setup = async (options: SetupOptions = {}) => {
  const documentClient = options.documentClient ?? dynamo.documentClient;
  const clock = options.clock ?? systemClock;
  const suffix = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  await Promise.all([
    dynamo.createTable(TABLES.tenants, `tenants-budget-${suffix}`),
    dynamo.createTable(TABLES.sessions, `sessions-budget-${suffix}`),
    dynamo.createTable(TABLES.quotas, `quotas-budget-${suffix}`),
  ]);
  const tenants = new DynamoTenantStore(documentClient, `tenants-budget-${suffix}`);
  const sample = await seedSampleTenant(tenants as never);
  await tenants.updateTenant(sample.tenantId, {
    quota_overrides: options.overrides ?? { tokens_per_month: LIMIT, requests_per_minute: null },
    updated_at: Math.floor(Date.now() / 1000),
  });
  /** When each key re-check ended, and when each hold was asked for (by hold id). */
  const timeline: string[] = [];
  const recheckDelayMs = options.recheckDelayMs ?? 0;
  const checkedTenants = Object.assign(Object.create(tenants) as DynamoTenantStore, {
    getApiKeyWithTenant: async (tenantId: string, keyId: string) => {
      const found = await tenants.getApiKeyWithTenant(tenantId, keyId);
      if (recheckDelayMs > 0) await new Promise((done) => setTimeout(done, recheckDelayMs));
      timeline.push('recheck');
      return found;
    },
  });
  const dynamoLedger = new DynamoQuotaLedger(documentClient, `quotas-budget-${suffix}`);
  const ledger = Object.assign(Object.create(dynamoLedger) as DynamoQuotaLedger, {
    hold: (request: HoldRequest) => {
      timeline.push(`hold ${request.quota} ${request.holdId} ${request.amount}`);
      return dynamoLedger.hold(request);
    },
    grow: (hold: Hold, request: GrowRequest) => {
      timeline.push(`grow ${hold.quota} ${hold.holdId} ${request.amount}`);
      return dynamoLedger.grow(hold, request);
    },
    release: (hold: Hold, options?: ReleaseOptions) => {
      timeline.push(`release ${hold.quota} ${hold.holdId}`);
      return dynamoLedger.release(hold, options);
    },
  });
  // As wired in production: run slots, settles and slot releases join the session store's transactions.
  const store = new LedgeredSessionStore(
    documentClient,
    new DynamoSessionStore(
      documentClient,
      `sessions-budget-${suffix}`,
      new S3BlobStore({ send: async () => ({}) } as never, 'unused'),
    ),
    ledger,
  );
  const llm = new VaryingUsageLlm();
  const deps = {
    store: options.sessionStore?.(store) ?? store,
    clock,
    ids: randomIds(clock),
    settings: sessionSettings,
  };
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
    { ...deps, tenants: checkedTenants, ledger, chat: () => chat },
    { logger: logs.logger, maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 },
  );
  /** `POST /v1/chat/completions` with this body (and `x-session-id`, when given). */
  const completeWith = async (body: unknown, sessionId?: string) => {
    const event = loadEvent('chat-api', 'chat-completion');
    event.body = JSON.stringify(body);
    if (sessionId !== undefined) event.headers['x-session-id'] = sessionId;
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return { statusCode: response.statusCode, json: JSON.parse(response.body) };
  };
  const complete = (maxTokens: number) => completeWith(completionBody(maxTokens));
  const item = async (quota: 'tokens_per_month' | 'concurrent_runs') => {
    const ref = counterRef(sample.tenantId, quota, clock.now());
    const { Item } = await dynamo.documentClient.send(
      new GetCommand({
        TableName: `quotas-budget-${suffix}`,
        Key: quotaCounterKey(sample.tenantId, quota, ref.window),
        ConsistentRead: true,
      }),
    );
    return Item;
  };
  const counter = async () => {
    const Item = await item('tokens_per_month');
    return { used: Number(Item?.used ?? 0), reserved: Number(Item?.reserved ?? 0) };
  };
  /** The whole ledger of the tenant now: tokens, this minute's requests, and the run slots held. */
  const ledgerState = async () => {
    const [tokens, slots] = await Promise.all([item('tokens_per_month'), item('concurrent_runs')]);
    const minute = counterRef(sample.tenantId, 'requests_per_minute', clock.now()).window as string;
    return {
      used: Number(tokens?.used ?? 0),
      reserved: Number(tokens?.reserved ?? 0),
      committed: Number(tokens?.committed ?? 0),
      requests: requestsIn(tokens && QuotaItemSchema.parse(tokens), minute),
      slots: Number(slots?.committed ?? 0),
    };
  };
  const send = async (sessionId: string, body: unknown = { content: 'Hello' }) => {
    const event = loadEvent('chat-api', 'send-message');
    event.pathParameters.id = sessionId;
    event.rawPath = `/v1/sessions/${sessionId}/messages`;
    event.body = JSON.stringify(body);
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return { statusCode: response.statusCode, json: JSON.parse(response.body) };
  };
  const createSession = async (body: unknown = {}) => {
    const event = loadEvent('chat-api', 'create-session');
    event.body = JSON.stringify(body);
    const response = (await api(event, lambdaContext())) as { statusCode: number; body: string };
    return JSON.parse(response.body).id as string;
  };
  return {
    complete,
    completeWith,
    counter,
    ledgerState,
    llm,
    send,
    createSession,
    logLines: logs.lines,
    timeline,
    tenants,
    sample,
    /** Another holder's tokens in flight (a run elsewhere), taken straight from the ledger. */
    occupy: async (amount: number) => {
      const now = clock.now();
      await dynamoLedger.hold({
        ...counterRef(sample.tenantId, 'tokens_per_month', now),
        holdId: 'elsewhere',
        amount,
        limit: Number.MAX_SAFE_INTEGER,
        nowSeconds: Math.floor(now.getTime() / 1000),
        leaseSeconds: 900,
      });
    },
  };
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
    const { complete, send, createSession, logLines } = await setup({
      documentClient: countedDocumentClient(
        new DynamoDBClient({
          endpoint: dynamo.endpoint,
          region: 'eu-west-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
      ),
    });
    const sessionId = await createSession();
    const measure = async (operation: () => Promise<{ statusCode: number }>) =>
      dynamoRequestsOf(async () => expect((await operation()).statusCode).toBe(200));

    const completion = await measure(() => complete(40));
    const turn = await measure(() => send(sessionId));
    // The tenant is known now: its next turn is admitted beside its first reads, with no request more.
    const fresh = await createSession();
    const earlyTurn = await measure(() => send(fresh));
    // ...and so is its next completion.
    const earlyCompletion = await measure(() => complete(40));

    console.info(`DynamoDB requests: chat completion ${completion.length} (${completion.join(', ')})`);
    console.info(`DynamoDB requests: inline session turn ${turn.length} (${turn.join(', ')})`);
    // Nothing on these paths may scan: every read is by key.
    expect([...completion, ...turn].filter((name) => name.startsWith('Scan'))).toEqual([]);
    // Issue 3's target: at most 5 per simple turn (the key check, the session with its history, the
    // admission, the run with its slot, the step with its settle and slot release); 3 per completion.
    expect(turn.length).toBeLessThanOrEqual(5);
    expect(earlyTurn).toEqual(turn);
    expect(earlyCompletion).toEqual(completion);
    expect(completion.length).toBeLessThanOrEqual(3);
    expect(turn.filter((name) => name === 'GetItem')).toEqual([]);
    expect(turn.filter((name) => name === 'Query')).toHaveLength(1);
    // Each request's access log line reports what it asked of DynamoDB: the same figures.
    const access = logLines
      .filter((line) => line.message === 'request' && line.route_key !== 'POST /v1/sessions')
      .slice(-4);
    expect(access.map((line) => line.route_key)).toEqual([
      'POST /v1/chat/completions',
      'POST /v1/sessions/{id}/messages',
      'POST /v1/sessions/{id}/messages',
      'POST /v1/chat/completions',
    ]);
    const operationsOf = (line: (typeof access)[number]) =>
      Object.entries(
        (line.aws_requests as { dynamodb: { operations: Record<string, number> } }).dynamodb.operations,
      )
        .flatMap(([operation, count]) => Array.from({ length: count }, () => operation))
        .sort();
    expect(access.map(operationsOf)).toEqual([completion, turn, earlyTurn, earlyCompletion]);
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

type Platform = Awaited<ReturnType<typeof setup>>;

/** The holds of `quota` asked for, with their ids and amounts, in the order asked for. */
const holdsOf = (platform: Platform, quota: string) =>
  platform.timeline.flatMap((entry) => {
    const [kind, of, id, amount] = entry.split(' ');
    return kind === 'hold' && of === quota ? [{ id: id as string, amount: Number(amount) }] : [];
  });

/** The amounts the first step of run `runId` grew its token hold to, in order. */
const growthsOf = (platform: Platform, runId: string) =>
  platform.timeline.flatMap((entry) => {
    const [kind, of, id, amount] = entry.split(' ');
    return kind === 'grow' && of === 'tokens_per_month' && id === `${runId}:step-0` ? [Number(amount)] : [];
  });

/** One inline turn on `sessionId` that must succeed: the ledger before it, and what its first step grew to. */
const observedTurn = async (platform: Platform, sessionId: string, body?: unknown) => {
  const before = await platform.ledgerState();
  platform.timeline.length = 0;
  const response = await platform.send(sessionId, body);
  expect(response.statusCode).toBe(200);
  return { before, response, growth: growthsOf(platform, response.json.run.id) };
};

/** After one request: it paid `totalTokens` exactly, was counted once, and holds nothing any more. */
const expectPaidFor = async (
  platform: Platform,
  before: Awaited<ReturnType<Platform['ledgerState']>>,
  totalTokens: number,
) => {
  const after = await platform.ledgerState();
  expect(after.used - before.used).toBe(totalTokens);
  expect(after).toMatchObject({
    reserved: 0,
    committed: after.used,
    requests: before.requests + 1,
    slots: 0,
  });
};

/** Quotas with every limit set, so that each write of an admission shows in the ledger. */
const earlyQuotas = { tokens_per_month: 100_000, requests_per_minute: 60, concurrent_runs: 3 };

/** One clock instant for the whole test: every request lands in the same minute, and no lease ends. */
const earlySetup = (options: SetupOptions = {}) =>
  setup({ overrides: earlyQuotas, clock: manualClock(Date.now()), ...options });

describe('an inline turn admitted beside its first reads (early admission), on DynamoDB Local', () => {
  const quotas = earlyQuotas;
  const early = earlySetup;
  /** A turn on a fresh session; afterwards the tenant is known to chat-api. */
  const turn = async (platform: Platform, body?: unknown) =>
    platform.send(await platform.createSession(), body);

  it("a known tenant's turn takes its tokens, its count and its slot while the key is re-checked, and pays its usage", async () => {
    const platform = await early({ recheckDelayMs: 25 });
    const first = await turn(platform);
    expect(first.statusCode).toBe(200);
    // Its first turn is admitted after the re-check: chat-api did not know its quotas yet.
    expect(platform.timeline[0]).toBe('recheck');

    const sessionId = await platform.createSession();
    const before = await platform.ledgerState();
    platform.timeline.length = 0;
    const second = await platform.send(sessionId);
    expect(second.statusCode).toBe(200);
    const runId = second.json.run.id as string;
    const recheck = platform.timeline.indexOf('recheck');
    const tokens = platform.timeline.findIndex((entry) =>
      entry.startsWith(`hold tokens_per_month ${runId}:step-0 `),
    );
    const slot = platform.timeline.findIndex((entry) => entry.startsWith(`hold concurrent_runs ${runId} `));
    expect(tokens).toBeGreaterThanOrEqual(0);
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(tokens).toBeLessThan(recheck);
    expect(slot).toBeLessThan(recheck);
    expect(holdsOf(platform, 'tokens_per_month')).toEqual([
      { id: `${runId}:step-0`, amount: earlyReservationTokens('Hello') },
    ]);
    await expectPaidFor(platform, before, second.json.run.usage.total_tokens);
  });

  it('gives back all it took when the turn does not go ahead: a revoked key, an unknown session, a body refused', async () => {
    const cases = [
      {
        name: 'revoked key',
        options: {},
        act: async (platform: Platform, sessionId: string) => {
          await platform.tenants.revokeApiKey(platform.sample.tenantId, platform.sample.keyId, 1_795_000_000);
          return platform.send(sessionId);
        },
        status: 401,
        counted: 0,
      },
      {
        name: 'unknown session',
        options: {},
        act: (platform: Platform, _sessionId: string) => platform.send(`ses_${'0'.repeat(26)}`),
        status: 404,
        counted: 1,
      },
      {
        name: 'body over the function limit',
        options: { maxBodyBytes: 8 * 1024 },
        act: (platform: Platform, sessionId: string) =>
          platform.send(sessionId, { content: 'a'.repeat(10_000) }),
        status: 413,
        counted: 0,
      },
    ];
    for (const { name, options, act, status, counted } of cases) {
      const platform = await early(options);
      expect((await turn(platform)).statusCode, name).toBe(200);
      const sessionId = await platform.createSession();
      const before = await platform.ledgerState();
      platform.timeline.length = 0;
      const response = await act(platform, sessionId);
      expect(response.statusCode, name).toBe(status);
      // The admission was taken ahead (so the give-back is what this case tests)...
      expect(
        platform.timeline.findIndex((entry) => entry.startsWith('hold tokens_per_month ')),
        name,
      ).toBe(0);
      // ...and nothing of it stays: no tokens held, no slot, the request counted as without it.
      expect(await platform.ledgerState(), name).toEqual({ ...before, requests: before.requests + counted });
    }
  });

  it('a plan lowered since the last turn voids what was taken: the turn is judged by the new quotas', async () => {
    const platform = await early();
    expect((await turn(platform)).statusCode).toBe(200);
    const sessionId = await platform.createSession();
    const before = await platform.ledgerState();
    await platform.tenants.updateTenant(platform.sample.tenantId, {
      quota_overrides: { ...quotas, tokens_per_month: before.used + 50 },
      updated_at: 1_795_000_000,
    });
    platform.timeline.length = 0;
    const refused = await platform.send(sessionId);
    expect(refused.statusCode).toBe(429);
    expect(refused.json.error.code).toBe('token_quota_exceeded');
    expect(holdsOf(platform, 'tokens_per_month')[0]?.amount).toBe(earlyReservationTokens('Hello'));
    expect(await platform.ledgerState()).toEqual({ ...before, requests: before.requests + 1 });
  });

  it('a budget too small for the early guess but not for the turn: admitted the ordinary way', async () => {
    const platform = await early();
    platform.timeline.length = 0;
    expect((await turn(platform)).statusCode).toBe(200);
    // The first turn held its exact worst case; the early guess for the same message is larger.
    const exact = holdsOf(platform, 'tokens_per_month')[0]?.amount as number;
    expect(exact + 200).toBeLessThan(earlyReservationTokens('Hello'));
    const sessionId = await platform.createSession();
    // Another run holds all but a little more than the turn needs.
    const { used } = await platform.ledgerState();
    const elsewhere = quotas.tokens_per_month - used - exact - 200;
    await platform.occupy(elsewhere);
    const before = await platform.ledgerState();

    platform.timeline.length = 0;
    const admitted = await platform.send(sessionId);
    expect(admitted.statusCode).toBe(200);
    const runId = admitted.json.run.id as string;
    const holds = holdsOf(platform, 'tokens_per_month');
    // The guess was refused, then the exact worst case was held under the run's own id.
    expect(holds).toHaveLength(2);
    expect(holds[0]?.amount).toBe(earlyReservationTokens('Hello'));
    expect(holds[0]?.id).not.toBe(`${runId}:step-0`);
    expect(holds[1]).toEqual({ id: `${runId}:step-0`, amount: exact });
    const after = await platform.ledgerState();
    expect(after.used - before.used).toBe(admitted.json.run.usage.total_tokens);
    expect(after).toMatchObject({ reserved: elsewhere, requests: before.requests + 1, slots: 0 });
  });

  it("a session whose context is larger than the guess grows the hold to the step's worst case", async () => {
    const platform = await early();
    expect((await turn(platform)).statusCode).toBe(200);
    const sessionId = await platform.createSession({ system_prompt: 'Answer briefly. '.repeat(400) });
    const { before, response, growth } = await observedTurn(platform, sessionId);
    expect(growth).toHaveLength(1);
    expect(growth[0]).toBeGreaterThan(earlyReservationTokens('Hello'));
    await expectPaidFor(platform, before, response.json.run.usage.total_tokens);
  });

  it("a session's next turn in the same container holds its history's worst case at once: no growth", async () => {
    const platform = await early();
    expect((await turn(platform)).statusCode).toBe(200);
    const sessionId = await platform.createSession({ system_prompt: 'Answer briefly. '.repeat(400) });
    // The first turn of the session here guesses, and grows to the step's worst case.
    const { growth } = await observedTurn(platform, sessionId);
    expect(growth).toHaveLength(1);
    const firstWorstCase = growth[0] as number;
    expect(firstWorstCase).toBeGreaterThan(earlyReservationTokens('Hello'));

    for (const content of ['How are you?', 'And now a somewhat longer question about the weather.']) {
      const { before, response, growth: none } = await observedTurn(platform, sessionId, { content });
      const runId = response.json.run.id as string;
      // Held once, large enough for the session's history and the new message: nothing to grow.
      expect(none).toEqual([]);
      const held = holdsOf(platform, 'tokens_per_month').filter((hold) => hold.id === `${runId}:step-0`);
      expect(held).toHaveLength(1);
      expect(held[0]?.amount).toBeGreaterThan(firstWorstCase);
      await expectPaidFor(platform, before, response.json.run.usage.total_tokens);
    }
  });

  it('a session that grew another way since its last turn here is grown again, and paid for exactly', async () => {
    const platform = await early();
    expect((await turn(platform)).statusCode).toBe(200);
    const sessionId = await platform.createSession();
    expect((await platform.send(sessionId)).statusCode).toBe(200);
    // A long exchange joins the session through a completion: chat-api's base for it is now too small.
    const long = 'Tell me everything about tokens. '.repeat(300);
    const appended = await platform.completeWith(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: long }], max_tokens: 64 },
      sessionId,
    );
    expect(appended.statusCode).toBe(200);

    const { before, response, growth } = await observedTurn(platform, sessionId);
    expect(growth).toHaveLength(1);
    expect(growth[0]).toBeGreaterThan(Buffer.byteLength(long));
    await expectPaidFor(platform, before, response.json.run.usage.total_tokens);
  });

  it('a refused growth refuses the turn and gives back its hold, its count and its slot', async () => {
    const platform = await early();
    expect((await turn(platform)).statusCode).toBe(200);
    const sessionId = await platform.createSession({ system_prompt: 'Answer briefly. '.repeat(400) });
    // Room for the early guess, not for the session's real worst case.
    const { used } = await platform.ledgerState();
    const elsewhere = quotas.tokens_per_month - used - earlyReservationTokens('Hello') - 100;
    await platform.occupy(elsewhere);
    const before = await platform.ledgerState();
    platform.timeline.length = 0;
    const refused = await platform.send(sessionId);
    expect(refused.statusCode).toBe(429);
    expect(refused.json.error.code).toBe('token_quota_exceeded');
    expect(platform.timeline.filter((entry) => entry.startsWith('grow tokens_per_month '))).toHaveLength(1);
    // As a refused ordinary admission: nothing held, and the refused request not counted.
    expect(await platform.ledgerState()).toEqual(before);
  });

  it('200 concurrent turns against a small budget: used never passes the limit and equals the usage the runs report', async () => {
    const limit = 40_000;
    const platform = await early({
      overrides: { ...quotas, tokens_per_month: limit, requests_per_minute: null, concurrent_runs: 20 },
    });
    const sessions = await pool(200, 20, () => platform.createSession());
    const responses = await pool(200, 50, (index) => platform.send(sessions[index] as string));

    const succeeded = responses.filter((response) => response.statusCode === 200);
    const refused = responses.filter((response) => response.statusCode === 429);
    expect(succeeded.length + refused.length).toBe(200);
    expect(succeeded.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    const reported = succeeded.reduce((sum, response) => sum + response.json.run.usage.total_tokens, 0);
    const state = await platform.ledgerState();
    expect(state.used).toBeLessThanOrEqual(limit);
    expect(state.used).toBe(reported);
    expect(state).toMatchObject({ reserved: 0, committed: state.used, slots: 0 });
    // Some turns went ahead on an early admission, and some early admissions were refused and undone.
    const guessed = holdsOf(platform, 'tokens_per_month').filter(
      (hold) => hold.amount === earlyReservationTokens('Hello'),
    );
    expect(guessed.length).toBeGreaterThan(0);
  });
});

describe('a chat completion admitted beside the key re-check (early admission), on DynamoDB Local', () => {
  /** A tenant chat-api knows: one completion made, so its quotas are remembered. */
  const known = async (options: SetupOptions = {}) => {
    const platform = await earlySetup(options);
    expect((await platform.complete(40)).statusCode).toBe(200);
    return platform;
  };

  it("a known tenant's completion holds its worst case and its count while the key is re-checked, and pays its usage", async () => {
    const platform = await earlySetup({ recheckDelayMs: 25 });
    expect((await platform.complete(40)).statusCode).toBe(200);
    // Its first completion is admitted after the re-check: chat-api did not know its quotas yet.
    expect(platform.timeline[0]).toBe('recheck');

    const before = await platform.ledgerState();
    platform.timeline.length = 0;
    const body = {
      ...completionBody(40),
      messages: [{ role: 'user' as const, content: 'What is the time?' }],
    };
    const answered = await platform.completeWith(body);
    expect(answered.statusCode).toBe(200);
    // The hold came first, under the completion's own id, and is the call's exact worst case.
    expect(platform.timeline[0]).toBe(
      `hold tokens_per_month ${answered.json.id} ${earlyCompletionTokens(body)}`,
    );
    expect(platform.timeline.indexOf('recheck')).toBeGreaterThan(0);
    expect(holdsOf(platform, 'tokens_per_month')).toHaveLength(1);
    expect(platform.timeline.filter((entry) => entry.startsWith('grow '))).toEqual([]);
    await expectPaidFor(platform, before, answered.json.usage.total_tokens);
  });

  it('gives back what it took when the completion does not go ahead, and counts the request as without it', async () => {
    const cases = [
      {
        name: 'revoked key',
        options: {},
        act: async (platform: Platform) => {
          await platform.tenants.revokeApiKey(platform.sample.tenantId, platform.sample.keyId, 1_795_000_000);
          return platform.complete(40);
        },
        status: 401,
        counted: 0,
      },
      {
        name: 'unknown model',
        options: {},
        act: (platform: Platform) =>
          platform.completeWith({ ...completionBody(40), model: 'gpt-nonexistent' }),
        status: 400,
        counted: 1,
      },
      {
        name: 'no model named, and none the tenant may use',
        options: {},
        act: async (platform: Platform) => {
          // A model list of models the stage no longer offers leaves the tenant none to default to.
          await platform.tenants.updateTenant(platform.sample.tenantId, {
            models: ['gpt-retired'],
            updated_at: 1_795_000_000,
          });
          const { model: _named, ...body } = completionBody(40);
          return platform.completeWith(body);
        },
        status: 400,
        counted: 1,
      },
      {
        name: 'max_tokens above the model limit',
        options: {},
        act: (platform: Platform) => platform.complete(50_000),
        status: 400,
        counted: 1,
      },
      {
        name: 'unknown session',
        options: {},
        act: (platform: Platform) => platform.completeWith(completionBody(40), `ses_${'0'.repeat(26)}`),
        status: 404,
        counted: 1,
      },
      {
        name: 'body over the function limit',
        options: { maxBodyBytes: 8 * 1024 },
        act: (platform: Platform) =>
          platform.completeWith({
            ...completionBody(40),
            messages: [{ role: 'user', content: 'a'.repeat(10_000) }],
          }),
        status: 413,
        counted: 0,
      },
    ];
    for (const { name, options, act, status, counted } of cases) {
      const platform = await known(options);
      const before = await platform.ledgerState();
      platform.timeline.length = 0;
      const response = await act(platform);
      expect(response.statusCode, name).toBe(status);
      // The admission was taken ahead (so the give-back is what this case tests)...
      expect(platform.timeline[0]?.startsWith('hold tokens_per_month '), name).toBe(true);
      // ...and nothing of it stays: no tokens held, the request counted as without it.
      expect(await platform.ledgerState(), name).toEqual({ ...before, requests: before.requests + counted });
    }
  });

  it('a provider failure after an early admission gives the tokens back and counts the request once', async () => {
    const platform = await known();
    const before = await platform.ledgerState();
    platform.timeline.length = 0;
    platform.llm.failNext = true;
    const failed = await platform.complete(40);
    expect(failed.statusCode).toBe(502);
    const [hold] = holdsOf(platform, 'tokens_per_month');
    expect(platform.timeline[0]).toBe(`hold tokens_per_month ${hold?.id} ${hold?.amount}`);
    expect(platform.timeline).toContain(`release tokens_per_month ${hold?.id}`);
    // As on the ordinary path: the call was made, so the request counts; nothing is charged or held.
    expect(await platform.ledgerState()).toEqual({ ...before, requests: before.requests + 1 });
  });

  it('with X-Session-Id, an exchange the session would refuse is a 400 before any call, and nothing stays held', async () => {
    const platform = await known();
    const sessionId = await platform.createSession();
    const before = await platform.ledgerState();
    const calls = platform.llm.calls;
    platform.timeline.length = 0;
    const messages = Array.from({ length: 50 }, (_, index) => ({
      role: 'user' as const,
      content: `line ${index}`,
    }));
    const refused = await platform.completeWith({ ...completionBody(40), messages }, sessionId);
    expect(refused.statusCode).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'invalid_append', param: 'messages' });
    expect(platform.llm.calls).toBe(calls);
    // Taken early, then given back; the request counts, as any request refused before its call.
    expect(holdsOf(platform, 'tokens_per_month')).toHaveLength(1);
    expect(await platform.ledgerState()).toEqual({ ...before, requests: before.requests + 1 });
  });

  it('with X-Session-Id, a session deleted during the call: 404, no charge, and the hold given back at once', async () => {
    let doomed: string | undefined;
    const platform = await known({
      // The session is deleted right after the completion's check found it, while its call is under way.
      sessionStore: (store) =>
        Object.assign(Object.create(store) as SessionStore, {
          getSession: async (tenantId: string, sessionId: string) => {
            const found = await store.getSession(tenantId, sessionId);
            if (sessionId === doomed) {
              doomed = undefined;
              await store.deleteSession(tenantId, sessionId);
            }
            return found;
          },
        }),
    });
    const sessionId = await platform.createSession();
    const before = await platform.ledgerState();
    const calls = platform.llm.calls;
    doomed = sessionId;
    const gone = await platform.completeWith(completionBody(40), sessionId);
    expect(gone.statusCode).toBe(404);
    expect(platform.llm.calls).toBe(calls + 1);
    // The provider answered, but the client got no answer: nothing charged, nothing left held.
    expect(await platform.ledgerState()).toEqual({ ...before, requests: before.requests + 1 });
  });

  it('a budget lowered since the last request voids what was taken: the completion is judged by the new quotas', async () => {
    const platform = await known();
    const before = await platform.ledgerState();
    await platform.tenants.updateTenant(platform.sample.tenantId, {
      quota_overrides: { ...earlyQuotas, tokens_per_month: before.used + 50 },
      updated_at: 1_795_000_000,
    });
    platform.timeline.length = 0;
    const refused = await platform.complete(40);
    expect(refused.statusCode).toBe(429);
    expect(refused.json.error.code).toBe('token_quota_exceeded');
    // Taken ahead under the old budget, given back, then refused by the new one: as a refused ordinary
    // hold, it holds nothing and counts nothing.
    expect(holdsOf(platform, 'tokens_per_month')).toHaveLength(2);
    expect(await platform.ledgerState()).toEqual(before);
  });

  it('200 concurrent completions of a known tenant: used never passes the limit and equals the usage reported', async () => {
    const platform = await known({
      overrides: { tokens_per_month: LIMIT, requests_per_minute: 10_000, concurrent_runs: 3 },
    });
    const before = await platform.ledgerState();
    platform.timeline.length = 0;
    const responses = await pool(200, 50, () => platform.complete(40));

    const succeeded = responses.filter((response) => response.statusCode === 200);
    const refused = responses.filter((response) => response.statusCode === 429);
    expect(succeeded.length + refused.length).toBe(200);
    expect(succeeded.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    const reported = succeeded.reduce((sum, response) => sum + response.json.usage.total_tokens, 0);
    const state = await platform.ledgerState();
    expect(state.used).toBeLessThanOrEqual(LIMIT);
    expect(state.used - before.used).toBe(reported);
    expect(state).toMatchObject({ reserved: 0, committed: state.used });
    expect(platform.llm.calls).toBe(succeeded.length + 1);
    // Each request that was answered counted once; one refused for its tokens counted nothing.
    expect(state.requests - before.requests).toBe(succeeded.length);
    // Every completion was admitted early or tried to be (a refused early hold is followed by the ordinary
    // one, so there are more holds than requests), and those answered went ahead on their early hold:
    // none was given back to be taken again.
    expect(holdsOf(platform, 'tokens_per_month').length).toBeGreaterThan(200);
    expect(platform.timeline.filter((entry) => entry.startsWith('release '))).toEqual([]);
  });
});
