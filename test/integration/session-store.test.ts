// Sessions, messages and runs through the real adapters: DynamoSessionStore on AWS's DynamoDB Local and
// S3BlobStore on s3rver, driven by the use cases.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgeredSessionStore } from '../../functions/adapters/dynamodb/ledgered-session-store';
import { DynamoQuotaLedger } from '../../functions/adapters/dynamodb/quota-ledger';
import { DynamoRunStreamStore } from '../../functions/adapters/dynamodb/run-stream-store';
import { DynamoSessionStore, messageBlobKey } from '../../functions/adapters/dynamodb/session-store';
import { quotaCounterKey } from '../../functions/adapters/dynamodb/usage-reader';
import { S3BlobStore } from '../../functions/adapters/s3/blob-store';
import { newId } from '../../functions/core/ids';
import { encodeCursor } from '../../functions/core/pagination';
import { randomIds } from '../../functions/core/ports/id-generator';
import { acquireRunSlot, runSlotHold, runSlotRequest } from '../../functions/core/quotas/acquire-run-slot';
import { QuotaExceededError } from '../../functions/core/quotas/errors';
import { reserveTokens } from '../../functions/core/quotas/reserve-tokens';
import { settleTokens } from '../../functions/core/quotas/settle-tokens';
import { appendMessages, appendRequest } from '../../functions/core/sessions/append-messages';
import { createRun } from '../../functions/core/sessions/create-run';
import { createSession } from '../../functions/core/sessions/create-session';
import { deleteSession } from '../../functions/core/sessions/delete-session';
import { RunStateConflictError } from '../../functions/core/sessions/errors';
import { getRun } from '../../functions/core/sessions/get-run';
import { getSession } from '../../functions/core/sessions/get-session';
import { listMessages } from '../../functions/core/sessions/list-messages';
import { listSessions } from '../../functions/core/sessions/list-sessions';
import type { SessionDeps } from '../../functions/core/sessions/model';
import { updateRunStatus } from '../../functions/core/sessions/update-run-status';
import type { TenantRecord } from '../../functions/core/tenants/schemas';
import { TABLES } from '../../functions/platform/tables';
import { countedDocumentClient, dynamoRequestsOf } from '../helpers/dynamo-requests';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { type S3Local, startS3Local } from '../helpers/s3-local';
import { sessionSettings } from '../helpers/session-fakes';
import { manualClock } from '../helpers/tenant-fakes';

let dynamo: DynamoDbLocal;
let s3: S3Local;
let count = 0;

beforeAll(async () => {
  [dynamo, s3] = await Promise.all([startDynamoDbLocal(), startS3Local()]);
});

afterAll(async () => {
  await Promise.all([dynamo?.stop(), s3?.stop()]);
});

const tenant = (): TenantRecord => ({
  id: newId('ten', Date.now()),
  name: 'Acme',
  plan: 'free',
  quota_overrides: {},
  models: null,
  tools: null,
  status: 'active',
  created_at: 0,
  updated_at: 0,
});

/** A fresh table and bucket per test, so tests neither see nor wait for each other's items. */
const fresh = async () => {
  count += 1;
  const tableName = `sessions-it-${count}-${Date.now()}`;
  const bucket = `files-it-${count}-${Date.now()}`;
  await Promise.all([dynamo.createTable(TABLES.sessions, tableName), s3.createBucket(bucket)]);
  const store = new DynamoSessionStore(dynamo.documentClient, tableName, new S3BlobStore(s3.client, bucket));
  const clock = manualClock(Date.now());
  const deps: SessionDeps = { store, clock, ids: randomIds(clock), settings: sessionSettings };
  const scan = async () =>
    (await dynamo.documentClient.send(new ScanCommand({ TableName: tableName, ConsistentRead: true })))
      .Items ?? [];
  const objects = async (prefix = '') =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
      (object) => object.Key,
    );
  const messageItem = async (tenantId: string, sessionId: string, messageId: string) =>
    (
      await dynamo.documentClient.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND sk = :sk',
          ExpressionAttributeValues: {
            ':pk': `TENANT#${tenantId}#SESSION#${sessionId}`,
            ':sk': `MSG#${messageId}`,
          },
        }),
      )
    ).Items?.[0];
  return { store, deps, clock, scan, objects, messageItem, tableName, bucket };
};

/** A fresh store wired with a quota ledger on its own quotas table, as the functions are wired. */
const freshWithLedger = async () => {
  const base = await fresh();
  const quotasTable = `quotas-it-${count}-${Date.now()}`;
  await dynamo.createTable(TABLES.quotas, quotasTable);
  const ledger = new DynamoQuotaLedger(dynamo.documentClient, quotasTable);
  const store = new LedgeredSessionStore(
    dynamo.documentClient,
    new DynamoSessionStore(dynamo.documentClient, base.tableName, new S3BlobStore(s3.client, base.bucket)),
    ledger,
  );
  const deps: SessionDeps = { ...base.deps, store };
  // DynamoDB Local sweeps items whose TTL has passed: quota items are written in 2099, as the ledger tests do.
  const clock = manualClock(Date.UTC(2099, 10, 21, 9, 0, 0));
  const quotaItem = async (key: Record<string, string>) =>
    (await dynamo.documentClient.send(new GetCommand({ TableName: quotasTable, Key: key }))).Item;
  return { deps, store, ledger, clock, quotaItem };
};

/** A run of `session` as send-message writes it: queued, or in progress when it starts inline. */
const runRecord = (
  tenantId: string,
  session: { id: string; model: string },
  id: string,
  status: 'queued' | 'in_progress',
) => ({
  id,
  tenant_id: tenantId,
  session_id: session.id,
  status,
  model: session.model,
  steps: [],
  usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  error: null,
  created_at: 0,
  updated_at: 0,
  started_at: status === 'queued' ? null : 0,
  completed_at: null,
});

/** An inline turn's first step as the agent loop appends it: the user's question and the answer. */
const firstStep = (runId: string) => ({
  append_id: `${runId}:step-0`,
  messages: [
    { role: 'user' as const, content: 'Hello', run_id: runId },
    { role: 'assistant' as const, content: 'Hi', run_id: runId },
  ],
});

const BIG = 33 * 1024;
const bigText = (seed: string) => `${seed}:${'é'.repeat(BIG / 2)}`; // 2 bytes per é: well past 32 KB

const walk = async (
  deps: SessionDeps,
  tenantId: string,
  sessionId: string,
  order: 'asc' | 'desc',
  limit: number,
) => {
  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await listMessages(deps, tenantId, sessionId, { limit, order, ...(after && { after }) });
    expect(page.has_more).toBe(page.next_cursor !== undefined);
    seen.push(...page.data.map((message) => message.content ?? ''));
    after = page.next_cursor;
    pages += 1;
  } while (after);
  return { seen, pages };
};

describe('DynamoSessionStore with S3BlobStore', () => {
  it('pagination walks each message exactly once in both orders, offloaded ones included', async () => {
    const { deps } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const expected: string[] = [];
    for (let turn = 0; turn < 11; turn += 1) {
      const answer = turn === 4 ? bigText('answer 4') : `answer ${turn}`;
      await appendMessages(deps, acme.id, session.id, {
        append_id: `turn-${turn}`,
        messages: [
          { role: 'user', content: `question ${turn}` },
          { role: 'assistant', content: answer },
        ],
      });
      expected.push(`question ${turn}`, answer);
    }
    expected.push('last');
    await appendMessages(deps, acme.id, session.id, {
      append_id: 'last',
      messages: [{ role: 'user', content: 'last' }],
    });

    const asc = await walk(deps, acme.id, session.id, 'asc', 5);
    const desc = await walk(deps, acme.id, session.id, 'desc', 5);
    const exact = await walk(deps, acme.id, session.id, 'asc', 23);

    expect(asc.seen).toEqual(expected);
    expect(asc.pages).toBe(5);
    expect(desc.seen).toEqual([...expected].reverse());
    expect(exact.pages).toBe(1);
  });

  it('a message over 32 KB is kept in S3 and read back unchanged, tool calls included', async () => {
    const { deps, objects, messageItem } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const content = bigText('report');
    const toolCalls = [
      {
        id: 'call_1',
        type: 'function' as const,
        function: { name: 'calculator', arguments: '{"expression":"1+1"}' },
      },
    ];

    const { messages } = await appendMessages(deps, acme.id, session.id, {
      append_id: 'big',
      messages: [{ role: 'assistant', content, tool_calls: toolCalls }],
    });
    const id = messages[0]?.id as string;
    const item = await messageItem(acme.id, session.id, id);
    const { data } = await listMessages(deps, acme.id, session.id, { limit: 10, order: 'asc' });

    expect(item?.content).toBeUndefined();
    expect(item?.body_key).toBe(messageBlobKey(acme.id, session.id, id));
    expect(await objects()).toEqual([messageBlobKey(acme.id, session.id, id)]);
    expect(data).toHaveLength(1);
    expect(data[0]?.content).toBe(content);
    expect(data[0]?.tool_calls).toEqual(toolCalls);
  });

  it('deleting a session leaves no item and no object behind, and spares the other session', async () => {
    const { deps, scan, objects, tableName } = await fresh();
    const acme = tenant();
    const doomed = await createSession(deps, acme, { title: 'doomed' });
    const kept = await createSession(deps, acme, { title: 'kept' });
    // More than one BatchWrite (25) of items, offloaded bodies, append markers and runs.
    for (let turn = 0; turn < 20; turn += 1) {
      await appendMessages(deps, acme.id, doomed.id, {
        append_id: `t${turn}`,
        messages: [
          { role: 'user', content: turn % 7 === 0 ? bigText(`q${turn}`) : `q${turn}` },
          { role: 'assistant', content: `a${turn}` },
        ],
      });
    }
    const runs = [await createRun(deps, acme.id, doomed.id), await createRun(deps, acme.id, doomed.id)];
    await appendMessages(deps, acme.id, kept.id, {
      append_id: 'k',
      messages: [{ role: 'user', content: bigText('kept') }],
    });
    const keptRun = await createRun(deps, acme.id, kept.id);
    // Streamed runs keep their event log (the answer's text) and subscriptions in the run's partition.
    const streams = new DynamoRunStreamStore(dynamo.documentClient, tableName, 'unused-idempotency');
    for (const run of [runs[0] as (typeof runs)[number], keptRun]) {
      await streams.append(acme.id, run.id, [
        { type: 'run.started', seq: 1, run_id: run.id, session_id: run.session_id, status: 'in_progress' },
        { type: 'message.delta', seq: 2, run_id: run.id, step: 0, text: 'the secret answer' },
      ] as never);
      await streams.subscribe(acme.id, run.id, { connectionId: `conn-${run.id}`, afterSeq: 0 });
    }
    const isOf = (ids: string[]) => (item: Record<string, unknown>) =>
      ids.some((id) => JSON.stringify(item).includes(id));
    const keptItems = (await scan()).filter(isOf([kept.id, keptRun.id]));
    expect(keptItems.filter(isOf([keptRun.id])).length).toBeGreaterThanOrEqual(4);

    await deleteSession(deps, acme.id, doomed.id);

    const after = await scan();
    expect(after.filter(isOf([doomed.id, ...runs.map((run) => run.id)]))).toEqual([]);
    expect(after).toHaveLength(keptItems.length);
    expect(await objects(`tenants/${acme.id}/sessions/${doomed.id}/`)).toEqual([]);
    expect(await objects()).toHaveLength(1);
    for (const run of runs)
      await expect(getRun(deps, acme.id, run.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(getSession(deps, acme.id, doomed.id)).rejects.toMatchObject({ statusCode: 404 });
    expect(await getRun(deps, acme.id, keptRun.id)).toMatchObject({ id: keptRun.id });
    expect((await listMessages(deps, acme.id, kept.id, { limit: 10, order: 'asc' })).data).toHaveLength(1);
    expect((await listSessions(deps, acme.id, { limit: 10, order: 'asc' })).data.map((s) => s.id)).toEqual([
      kept.id,
    ]);
  });

  it('a delete interrupted half way is finished by the next one, and the session reads as gone meanwhile', async () => {
    const { deps, scan, objects, store } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    await appendMessages(deps, acme.id, session.id, {
      append_id: 'a',
      messages: [{ role: 'user', content: bigText('x') }],
    });
    const blobs = (store as unknown as { blobs: S3BlobStore }).blobs;
    const realDeletePrefix = blobs.deletePrefix.bind(blobs);
    blobs.deletePrefix = async () => {
      throw new Error('lost the connection');
    };

    await expect(deleteSession(deps, acme.id, session.id)).rejects.toThrow('lost the connection');
    await expect(getSession(deps, acme.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(
      appendMessages(deps, acme.id, session.id, {
        append_id: 'b',
        messages: [{ role: 'user', content: 'late' }],
      }),
    ).rejects.toMatchObject({ statusCode: 404 });
    blobs.deletePrefix = realDeletePrefix;
    await deleteSession(deps, acme.id, session.id);

    expect(await scan()).toEqual([]);
    expect(await objects()).toEqual([]);
  });

  it('a repeated append id appends once, and leaves no stray object from the repeat', async () => {
    const { deps, objects } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const input = {
      append_id: 'run_1:step-1',
      messages: [
        { role: 'assistant' as const, content: bigText('long answer') },
        { role: 'assistant' as const, content: 'short' },
      ],
    };

    const first = await appendMessages(deps, acme.id, session.id, input);
    const again = await appendMessages(deps, acme.id, session.id, input);
    const concurrent = await Promise.all(
      [1, 2, 3].map(() => appendMessages(deps, acme.id, session.id, input)),
    );
    const { data } = await listMessages(deps, acme.id, session.id, { limit: 10, order: 'asc' });

    expect(first.replayed).toBe(false);
    expect(again).toEqual({ messages: first.messages, replayed: true });
    for (const result of concurrent) expect(result).toEqual({ messages: first.messages, replayed: true });
    expect(data.map((message) => message.id)).toEqual(first.messages.map((message) => message.id));
    expect(await objects()).toHaveLength(1);
  });

  it('concurrent appends all land, each once, in one consistent order', async () => {
    const { deps } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});

    await Promise.all(
      Array.from({ length: 4 }, (_, writer) =>
        appendMessages(deps, acme.id, session.id, {
          append_id: `writer-${writer}`,
          messages: [
            { role: 'user', content: `w${writer}-1` },
            { role: 'assistant', content: `w${writer}-2` },
          ],
        }),
      ),
    );
    const { data } = await listMessages(deps, acme.id, session.id, { limit: 100, order: 'asc' });
    const contents = data.map((message) => message.content);

    expect([...contents].sort()).toEqual(
      Array.from({ length: 4 }, (_, writer) => [`w${writer}-1`, `w${writer}-2`])
        .flat()
        .sort(),
    );
    // Each append stays contiguous and in its own order.
    for (let index = 0; index < contents.length; index += 2) {
      expect(contents[index]?.replace('-1', '-2')).toBe(contents[index + 1]);
    }
  });

  it('a run cannot be completed twice, even by two workers at once', async () => {
    const { deps } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const run = await createRun(deps, acme.id, session.id);
    await updateRunStatus(deps, acme.id, run.id, { status: 'in_progress' });

    const outcomes = await Promise.allSettled(
      [1, 2, 3].map(() => updateRunStatus(deps, acme.id, run.id, { status: 'completed' })),
    );
    const again = await updateRunStatus(deps, acme.id, run.id, { status: 'completed' }).catch(
      (error) => error,
    );

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        statusCode: 409,
        current: 'completed',
      });
    }
    expect(again).toMatchObject({ statusCode: 409, code: 'run_state_conflict', current: 'completed' });
    expect(await getRun(deps, acme.id, run.id)).toMatchObject({ status: 'completed' });
  });

  it('keeps the first start time across a redelivered start, and records steps and usage', async () => {
    const { deps, clock } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const run = await createRun(deps, acme.id, session.id);
    const step = {
      index: 0,
      type: 'message_creation' as const,
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
      created_at: 1,
    };

    const started = await updateRunStatus(deps, acme.id, run.id, { status: 'in_progress' });
    clock.advance(30_000);
    await updateRunStatus(deps, acme.id, run.id, { status: 'in_progress', steps: [step] });
    const done = await updateRunStatus(deps, acme.id, run.id, { status: 'completed', steps: [step] });

    expect(done.started_at).toBe(started.started_at);
    expect(done).toMatchObject({ status: 'completed', steps: [step], usage: step.usage, error: null });
    expect(done.completed_at).toBeGreaterThan(started.started_at as number);
  });

  it('one Query reads the session with its newest messages, skipping run references old and new', async () => {
    const { deps, store, scan, tableName } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    for (let turn = 0; turn < 3; turn += 1) {
      await createRun(deps, acme.id, session.id);
      await appendMessages(deps, acme.id, session.id, {
        append_id: `turn-${turn}`,
        messages: [
          { role: 'user', content: `question ${turn}` },
          { role: 'assistant', content: `answer ${turn}` },
        ],
      });
    }
    // A run reference as written before they moved under LINK#: inside the key range the Query reads.
    const legacyRun = newId('run', Date.now());
    await dynamo.documentClient.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: `TENANT#${acme.id}#SESSION#${session.id}`, sk: `RUN#${legacyRun}`, entity: 'run_ref' },
      }),
    );

    const read = await store.readSessionWithHistory(acme.id, session.id, 3);
    const all = await store.readSessionWithHistory(acme.id, session.id, 6);

    expect(read?.session).toEqual(await store.getSession(acme.id, session.id));
    expect(read?.messages.items.map((message) => message.content)).toEqual([
      'answer 2',
      'question 2',
      'answer 1',
    ]);
    expect(read?.messages.nextCursor).toBeDefined();
    expect(all?.messages.items).toHaveLength(6);
    expect(all?.messages.nextCursor).toBeUndefined();
    expect(await store.readSessionWithHistory(acme.id, newId('ses', Date.now()), 3)).toBeUndefined();
    await deleteSession(deps, acme.id, session.id);
    expect(await store.readSessionWithHistory(acme.id, session.id, 3)).toBeUndefined();
    expect(await scan()).toEqual([]);
  });

  it('a run and its first messages land together, and a step append carrying a refused transition writes nothing', async () => {
    const { deps, store } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const now = Math.floor(Date.now() / 1000);
    const run = {
      id: newId('run', Date.now()),
      tenant_id: acme.id,
      session_id: session.id,
      status: 'in_progress' as const,
      model: session.model,
      steps: [],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      error: null,
      created_at: now,
      updated_at: now,
      started_at: now,
      completed_at: null,
    };
    const user = appendRequest(acme.id, session.id, `${run.id}:user`, null, new Date(), [
      { role: 'user', content: 'Hello', run_id: run.id },
    ]);
    const stale = appendRequest(acme.id, session.id, `${run.id}:other`, null, new Date(), [
      { role: 'user', content: 'Too late' },
    ]);

    await store.createRun(run, user);
    const refused = await store
      .createRun({ ...run, id: newId('run', Date.now()) }, stale)
      .catch((error) => error);
    await store.transitionRun(acme.id, run.id, ['in_progress'], { status: 'cancelled', updated_at: now });
    const step = appendRequest(
      acme.id,
      session.id,
      `${run.id}:step-0`,
      user.messages[0]?.id ?? null,
      new Date(),
      [{ role: 'assistant', content: 'Hi', run_id: run.id }],
    );
    const cancelled = await store
      .appendMessages({
        ...step,
        runTransition: {
          runId: run.id,
          from: ['in_progress'],
          changes: { status: 'completed', updated_at: now },
        },
      })
      .catch((error) => error);

    expect(refused.code).toBe('session_busy');
    expect(cancelled).toBeInstanceOf(RunStateConflictError);
    const page = await store.listMessages(acme.id, session.id, { limit: 10, order: 'asc' });
    expect(page.items.map((message) => message.content)).toEqual(['Hello']);
    expect((await store.getRun(acme.id, run.id))?.status).toBe('cancelled');
  });

  it("an inline turn's first step writes its run, the question and the answer at once; a replay writes nothing", async () => {
    const { deps, store, scan } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const runId = newId('run', Date.now());
    const run = { ...runRecord(acme.id, session, runId, 'in_progress'), status: 'completed' as const };
    const turn = () =>
      appendMessages(deps, acme.id, session.id, firstStep(runId), {
        known: { lastMessageId: null },
        newRun: run,
      });

    const written = await turn();
    const afterTurn = await scan();
    const replayed = await turn();

    expect(written).toMatchObject({ replayed: false, transitioned: true });
    expect(replayed).toMatchObject({ replayed: true, transitioned: false });
    expect(replayed.messages.map((message) => message.id)).toEqual(
      written.messages.map((message) => message.id),
    );
    expect((await store.getRun(acme.id, runId))?.status).toBe('completed');
    const page = await store.listMessages(acme.id, session.id, { limit: 10, order: 'asc' });
    expect(page.items.map((message) => [message.role, message.content])).toEqual([
      ['user', 'Hello'],
      ['assistant', 'Hi'],
    ]);
    expect((await scan()).length).toBe(afterTurn.length);
    // The run's ref is the append's marker: the turn wrote the session's update, the ref, two messages and
    // the run, and no separate marker.
    expect(afterTurn.filter((item) => String(item.sk).startsWith('APPEND#'))).toEqual([]);
    expect(afterTurn.find((item) => item.sk === `LINK#RUN#${runId}`)).toMatchObject({
      append_id: `${runId}:step-0`,
      message_ids: written.messages.map((message) => message.id),
    });
    // The run is the session's: deleting the session takes it too.
    await deleteSession(deps, acme.id, session.id);
    expect(await store.getRun(acme.id, runId)).toBeUndefined();
    expect(await scan()).toEqual([]);
  });

  it('a run written by another append is no replay of this one: refused, and nothing more is written', async () => {
    const { deps, store, scan } = await fresh();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const runId = newId('run', Date.now());
    const run = runRecord(acme.id, session, runId, 'in_progress');
    // The hand-off path wrote the run with the user's message under its own append id...
    await store.createRun(
      run,
      appendRequest(acme.id, session.id, `${runId}:user`, null, new Date(), [
        { role: 'user', content: 'Hello', run_id: runId },
      ]),
    );
    const before = await scan();
    const last = (await store.getSession(acme.id, session.id))?.last_message_id ?? null;

    // ...so a first step that would write the same run again must not be taken for a replay of it.
    const outcome = await appendMessages(deps, acme.id, session.id, firstStep(runId), {
      known: { lastMessageId: last },
      newRun: { ...run, status: 'completed' },
    }).catch((error: unknown) => error);

    expect(outcome).toBeInstanceOf(Error);
    expect(await scan()).toEqual(before);
    expect((await store.getRun(acme.id, runId))?.status).toBe('in_progress');
  });

  it("an inline turn's first write settles its hold and gives back its slot; a slot already gone still records it", async () => {
    const { deps: withLedger, store, ledger, clock, quotaItem } = await freshWithLedger();
    const acme = tenant();
    const session = await createSession(withLedger, acme, {});
    const turn = async (runId: string, releaseGoneSlot: boolean) => {
      const tokens = await reserveTokens(
        { ledger, clock },
        { tenantId: acme.id, limit: 10_000, tokens: 500, reservationId: `${runId}:step-0` },
      );
      await acquireRunSlot({ ledger, clock }, { tenantId: acme.id, runId, limit: 2, leaseSeconds: 35 });
      if (releaseGoneSlot) await ledger.release(runSlotHold(acme.id, runId));
      if (tokens.unlimited) throw new Error('expected a hold');
      const last = (await store.getSession(acme.id, session.id))?.last_message_id ?? null;
      return appendMessages(withLedger, acme.id, session.id, firstStep(runId), {
        known: { lastMessageId: last },
        newRun: { ...runRecord(acme.id, session, runId, 'in_progress'), status: 'completed' },
        settle: { hold: tokens, used: 120 },
        releaseSlot: runSlotHold(acme.id, runId),
      });
    };
    const first = newId('run', Date.now());
    const second = newId('run', Date.now() + 1);

    const whole = await turn(first, false);
    const slotGone = await turn(second, true);

    expect(whole).toMatchObject({ transitioned: true, settled: { status: 'settled', charged: 120 } });
    expect(whole.slotReleased).toEqual({ status: 'released' });
    expect(slotGone).toMatchObject({ transitioned: true, settled: { status: 'settled', charged: 120 } });
    expect(slotGone.slotReleased).toEqual({ status: 'not_held' });
    for (const runId of [first, second])
      expect((await store.getRun(acme.id, runId))?.status).toBe('completed');
    const page = await store.listMessages(acme.id, session.id, { limit: 10, order: 'asc' });
    expect(page.items).toHaveLength(4);
    expect(await quotaItem(quotaCounterKey(acme.id, 'tokens_per_month', '2099-11'))).toMatchObject({
      used: 240,
      reserved: 0,
      committed: 240,
    });
    expect(await quotaItem(quotaCounterKey(acme.id, 'concurrent_runs', null))).toMatchObject({
      reserved: 0,
      committed: 0,
    });
  });

  it("a step's settle lands in its append transaction; a hold already gone records the step and charges nothing", async () => {
    const { deps: withLedger, store, ledger, clock, quotaItem } = await freshWithLedger();
    const acme = tenant();
    const session = await createSession(withLedger, acme, {});
    const reserve = (id: string) =>
      reserveTokens({ ledger, clock }, { tenantId: acme.id, limit: 10_000, tokens: 500, reservationId: id });
    const first = await reserve('step-a');
    const second = await reserve('step-b');
    if (first.unlimited || second.unlimited) throw new Error('expected holds');
    await settleTokens({ ledger }, second, 10); // settled before the step is recorded: the hold is gone

    const charged = await appendMessages(
      withLedger,
      acme.id,
      session.id,
      { append_id: 'step-a', messages: [{ role: 'assistant', content: 'one' }] },
      { settle: { hold: first, used: 120 } },
    );
    const uncharged = await appendMessages(
      withLedger,
      acme.id,
      session.id,
      { append_id: 'step-b', messages: [{ role: 'assistant', content: 'two' }] },
      { settle: { hold: second, used: 300 } },
    );

    expect(charged.settled).toEqual({ status: 'settled', charged: 120, overrun: 0 });
    expect(uncharged.settled).toEqual({ status: 'not_held' });
    const page = await store.listMessages(acme.id, session.id, { limit: 10, order: 'asc' });
    expect(page.items.map((message) => message.content)).toEqual(['one', 'two']);
    const counter = await quotaItem(quotaCounterKey(acme.id, 'tokens_per_month', '2099-11'));
    expect(counter).toMatchObject({ used: 130, reserved: 0, committed: 130 });
  });

  it("a run's concurrent-run slot is held in the run's write and given back with its last step", async () => {
    const { deps: withLedger, store, clock, quotaItem } = await freshWithLedger();
    const acme = tenant();
    const session = await createSession(withLedger, acme, {});
    const newRun = (id: string) => runRecord(acme.id, session, id, 'in_progress');
    const first = newRun(newId('run', Date.now()));
    const second = newRun(newId('run', Date.now() + 1));
    const slotOf = (runId: string, lease?: number) => {
      const request = runSlotRequest({ clock }, acme.id, runId, 1);
      if (!request) throw new Error('expected a slot');
      return lease === undefined ? request : { ...request, leaseSeconds: lease };
    };
    const userTurn = (runId: string, last: string | null) =>
      appendRequest(acme.id, session.id, `${runId}:user`, last, new Date(), [
        { role: 'user', content: runId, run_id: runId },
      ]);

    await store.createRun(first, userTurn(first.id, null), { slot: slotOf(first.id) });
    const lastId = (await store.getSession(acme.id, session.id))?.last_message_id ?? null;
    const refused = await store
      .createRun(second, userTurn(second.id, lastId), { slot: slotOf(second.id) })
      .catch((error: unknown) => error);
    const refusedLeftNothing = {
      run: await store.getRun(acme.id, second.id),
      lastId: (await store.getSession(acme.id, session.id))?.last_message_id,
    };
    const finished = await appendMessages(
      withLedger,
      acme.id,
      session.id,
      {
        append_id: `${first.id}:step-0`,
        messages: [{ role: 'assistant', content: 'done', run_id: first.id }],
      },
      {
        runTransition: {
          runId: first.id,
          from: ['in_progress'],
          changes: { status: 'completed', updated_at: 1 },
        },
        releaseSlot: runSlotHold(acme.id, first.id),
      },
    );
    const afterRelease = await store.getSession(acme.id, session.id);
    await store.createRun(second, userTurn(second.id, afterRelease?.last_message_id ?? null), {
      slot: slotOf(second.id),
    });

    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect(refused).toMatchObject({ code: 'concurrent_runs_exceeded' });
    expect(refusedLeftNothing).toEqual({ run: undefined, lastId });
    expect(finished.slotReleased).toEqual({ status: 'released' });
    expect((await store.getRun(acme.id, first.id))?.status).toBe('completed');
    expect((await store.getRun(acme.id, second.id))?.status).toBe('in_progress');
    const gauge = await quotaItem(quotaCounterKey(acme.id, 'concurrent_runs', null));
    expect(gauge).toMatchObject({ reserved: 1, committed: 1 });
    expect(gauge?.[`hold_${second.id}`]).toBeDefined();
    expect(gauge?.[`hold_${first.id}`]).toBeUndefined();
  });

  it("a crashed run's slot is reclaimed once its lease is over, by the run its refusal would have turned away", async () => {
    const { deps, store, clock, quotaItem } = await freshWithLedger();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const run = (id: string) => runRecord(acme.id, session, id, 'queued');
    const crashed = run(newId('run', Date.now()));
    const next = run(newId('run', Date.now() + 1));
    const crashedSlot = { ...runSlotRequest({ clock }, acme.id, crashed.id, 1)!, leaseSeconds: 30 };

    await store.createRun(crashed, undefined, { slot: crashedSlot });
    clock.advance(31_000);
    await store.createRun(next, undefined, { slot: runSlotRequest({ clock }, acme.id, next.id, 1)! });

    expect((await store.getRun(acme.id, next.id))?.status).toBe('queued');
    const gauge = await quotaItem(quotaCounterKey(acme.id, 'concurrent_runs', null));
    expect(gauge).toMatchObject({ reserved: 1, committed: 1 });
    expect(gauge?.[`hold_${crashed.id}`]).toBeUndefined();
  });

  it("another tenant's session and run are simply not found", async () => {
    const { deps } = await fresh();
    const acme = tenant();
    const other = { ...tenant(), id: newId('ten', Date.now() + 1) };
    const session = await createSession(deps, acme, {});
    const run = await createRun(deps, acme.id, session.id);

    await expect(getSession(deps, other.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(getRun(deps, other.id, run.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(deleteSession(deps, other.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(createRun(deps, other.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(updateRunStatus(deps, other.id, run.id, { status: 'cancelled' })).rejects.toMatchObject({
      statusCode: 404,
    });
    expect((await listSessions(deps, other.id, { limit: 10, order: 'desc' })).data).toEqual([]);
    expect(await getRun(deps, acme.id, run.id)).toMatchObject({ status: 'queued' });
  });

  it('refuses a tampered cursor with 400, and lists sessions newest first', async () => {
    const { deps, clock } = await fresh();
    const acme = tenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push((await createSession(deps, acme, {})).id);
      clock.advance(1000);
    }
    const session = ids[0] as string;

    await expect(
      listMessages(deps, acme.id, session, { limit: 5, order: 'asc', after: encodeCursor(session) }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'invalid_cursor' });
    await expect(
      listSessions(deps, acme.id, { limit: 5, order: 'desc', after: 'eyJ2IjoxLCJpZCI6IngifQ' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'invalid_cursor' });
    const first = await listSessions(deps, acme.id, { limit: 3, order: 'desc' });
    const second = await listSessions(deps, acme.id, { limit: 3, order: 'desc', after: first.next_cursor });
    expect([...first.data, ...second.data].map((s) => s.id)).toEqual([...ids].reverse());
  });
});

describe('DynamoDB requests per operation (the Chat issue budgets at most 5 per simple turn)', () => {
  it('append, list, run create and transition each cost a fixed, small number of requests', async () => {
    const tableName = `sessions-count-${Date.now()}`;
    const bucket = `files-count-${Date.now()}`;
    await Promise.all([dynamo.createTable(TABLES.sessions, tableName), s3.createBucket(bucket)]);
    const counted = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const store = new DynamoSessionStore(
      countedDocumentClient(counted),
      tableName,
      new S3BlobStore(s3.client, bucket),
    );
    const clock = manualClock(Date.now());
    const deps: SessionDeps = { store, clock, ids: randomIds(clock), settings: sessionSettings };
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const measure = dynamoRequestsOf;

    const append = await measure(() =>
      appendMessages(deps, acme.id, session.id, {
        append_id: 'turn-1',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
        ],
      }),
    );
    const list = await measure(() => listMessages(deps, acme.id, session.id, { limit: 20, order: 'asc' }));
    const laterHistoryPage = await measure(() =>
      store.listMessages(acme.id, session.id, { limit: 20, order: 'desc' }, { sessionChecked: true }),
    );
    let runId = '';
    const create = await measure(async () => {
      runId = (await createRun(deps, acme.id, session.id)).id;
    });
    const transition = await measure(() => updateRunStatus(deps, acme.id, runId, { status: 'in_progress' }));
    counted.destroy();

    expect(append).toEqual(['GetItem', 'TransactWriteItems']);
    expect(list).toEqual(['GetItem', 'Query']);
    expect(laterHistoryPage).toEqual(['Query']);
    expect(create).toEqual(['GetItem', 'TransactWriteItems']);
    expect(transition).toEqual(['UpdateItem']);
  });
});
