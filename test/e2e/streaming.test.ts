// e2e: streaming runs over the WebSocket API on the whole local platform, with a real `ws` client and a
// fake upstream that streams tokens at a set pace: deltas equal the completed and the stored message,
// resume after a dropped connection, cancel, client_request_id dedupe, another tenant's run, the
// dead-letter path with redrive, and a duplicate delivery of a finished run's job.
import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quotaCounterKey } from '../../functions/adapters/dynamodb/quota-items';
import { runExecuteEnvelope } from '../../functions/core/chat/run-execute-job';
import { quotaWindow } from '../../functions/core/quotas/windows';
import { QUEUES } from '../../functions/platform/queues';
import { TABLES } from '../../functions/platform/tables';
import { createEmulatorClients, type EmulatorClients, queueUrlOnEndpoint } from '../../local/clients';
import { redriveLocally } from '../../local/dead-letters';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../helpers/fake-openai-server';
import { type CallOptions, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { sentAndSettled } from '../helpers/platform-events';
import { connectWithTicket, deltaText, type Frame, runFrames, type WsClient } from '../helpers/ws-client';

let platform: TestPlatform;
let fake: FakeOpenAiServer;
let clients: EmulatorClients;
const open: WsClient[] = [];

const call = (path: string, init: CallOptions = {}) => platform.call(path, init);

const tenantWithSession = async (name: string) => {
  const admin = { key: platform.adminKey };
  const tenant = await call('/v1/tenants', {
    ...admin,
    method: 'POST',
    body: { name, quotas: { tokens_per_month: 1_000_000, requests_per_minute: 1000 } },
  });
  expect(tenant.status).toBe(201);
  const key = await call(`/v1/tenants/${tenant.body.id}/api-keys`, { ...admin, method: 'POST', body: {} });
  expect(key.status).toBe(201);
  const session = await call('/v1/sessions', { key: key.body.key, method: 'POST', body: {} });
  expect(session.status).toBe(201);
  return {
    tenantId: tenant.body.id as string,
    key: key.body.key as string,
    sessionId: session.body.id as string,
  };
};

const connect = async (key: string) => {
  const client = await connectWithTicket(platform, key);
  open.push(client);
  return client;
};

const isEnd = (runId: string) => (frame: Frame) =>
  frame.run_id === runId && ['run.completed', 'run.failed', 'run.cancelled'].includes(frame.type);

const words = (count: number, prefix = 'word') =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`).join(' ');

const storedAssistant = async (key: string, sessionId: string) => {
  const messages = await call(`/v1/sessions/${sessionId}/messages?limit=100`, { key });
  return messages.body.data.filter((message: { role: string }) => message.role === 'assistant');
};

const queueUrl = async (sqs: SQSClient, name: string) =>
  queueUrlOnEndpoint(
    platform.platform.endpoints.sqs,
    (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!,
  );

const chatRunsQueues = async () => {
  const source = platform.platform.model.queues.find(
    (queue) => queue.logicalId.includes(QUEUES.chatRuns.id) && queue.redrive,
  )!;
  const dlq = platform.platform.model.queues.find(
    (queue) =>
      queue.logicalId === source.redrive!.deadLetterQueue || queue.name === source.redrive!.deadLetterQueue,
  )!;
  return {
    sourceUrl: await queueUrl(clients.sqs, source.name),
    dlqUrl: await queueUrl(clients.sqs, dlq.name),
  };
};

const tableName = (id: string) =>
  platform.platform.model.tables.find((table) => table.logicalId.includes(id))!.name;

beforeAll(async () => {
  fake = await startFakeOpenAiServer({ fallback: { type: 'text', text: 'Fallback answer.' } });
  platform = await startTestPlatform({
    functionEnvOverrides: { OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.baseURL },
  });
  clients = createEmulatorClients(platform.platform.endpoints);
}, 180_000);

afterAll(async () => {
  await Promise.all(open.map((client) => client.close()));
  clients?.destroy();
  await platform?.stop();
  await fake?.close();
});

describe('a chat streamed over the WebSocket', () => {
  it('acknowledges with run.started, streams deltas whose text is the completed and the stored message', async () => {
    const { key, sessionId } = await tenantWithSession('stream-co');
    const answer = `Streaming answer: ${words(40)}.`;
    fake.enqueue({ type: 'text', text: answer, piecesPerSecond: 100 });
    const client = await connect(key);

    client.send({ action: 'chat', session_id: sessionId, content: 'Tell me something long' });
    const started = await client.waitFor((frame) => frame.type === 'run.started');
    const runId = started.run_id as string;
    await client.waitFor(isEnd(runId));

    const frames = runFrames(client.frames, runId);
    const completed = frames.find((frame) => frame.type === 'message.completed');
    const [stored] = await storedAssistant(key, sessionId);
    expect(started).toMatchObject({ seq: 1, session_id: sessionId });
    expect(frames.map((frame) => frame.seq)).toEqual(frames.map((_, index) => index + 1));
    expect(frames.at(-1)).toMatchObject({
      type: 'run.completed',
      usage: { total_tokens: expect.any(Number) },
    });
    expect(deltaText(client.frames, runId)).toBe(answer);
    expect(completed?.message.content).toBe(answer);
    expect(stored.content).toBe(answer);
    // Coalesced: fewer deltas than the pieces the model streamed.
    const deltas = frames.filter((frame) => frame.type === 'message.delta');
    expect(deltas.length).toBeLessThan(answer.split(' ').length);
  });

  it('resumes after a dropped connection: a new ticket, resume from the last seq, identical text', async () => {
    const { key, sessionId } = await tenantWithSession('resume-co');
    const answer = `Resumed answer: ${words(60)}.`;
    fake.enqueue({ type: 'text', text: answer, piecesPerSecond: 40 });
    const first = await connect(key);
    first.send({ action: 'chat', session_id: sessionId, content: 'A long one, please' });
    const started = await first.waitFor((frame) => frame.type === 'run.started');
    const runId = started.run_id as string;
    await first.waitFor((frame) => frame.type === 'message.delta' && frame.seq >= 3);

    await first.close();
    const seen = runFrames(first.frames, runId);
    const lastSeq = seen.at(-1)!.seq as number;
    const second = await connect(key);
    second.send({ action: 'resume', run_id: runId, after_seq: lastSeq });
    await second.waitFor(isEnd(runId));

    const all = [...first.frames, ...second.frames];
    const completed = runFrames(all, runId).find((frame) => frame.type === 'message.completed');
    expect(seen.at(-1)?.type).not.toBe('run.completed');
    expect(runFrames(second.frames, runId)[0]?.seq).toBe(lastSeq + 1);
    expect(deltaText(all, runId)).toBe(answer);
    expect(completed?.message.content).toBe(answer);
    expect((await storedAssistant(key, sessionId))[0].content).toBe(answer);
  });

  it('replays a finished run from the log on resume (after_seq 0 gives the whole stream)', async () => {
    const { key, sessionId } = await tenantWithSession('replay-co');
    fake.enqueue({ type: 'text', text: 'Short and done.' });
    const client = await connect(key);
    client.send({ action: 'chat', session_id: sessionId, content: 'Hi' });
    const runId = (await client.waitFor((frame) => frame.type === 'run.started')).run_id as string;
    await client.waitFor(isEnd(runId));

    const later = await connect(key);
    later.send({ action: 'resume', run_id: runId, after_seq: 0 });
    await later.waitFor(isEnd(runId));

    expect(runFrames(later.frames, runId)).toEqual(runFrames(client.frames, runId));
  });

  it('cancels a streaming run within a flush interval: run.cancelled, the run cancelled; a second cancel is 409', async () => {
    const { key, sessionId } = await tenantWithSession('cancel-co');
    fake.enqueue({ type: 'text', text: words(200), piecesPerSecond: 10 });
    const client = await connect(key);
    client.send({ action: 'chat', session_id: sessionId, content: 'Go on and on' });
    const runId = (await client.waitFor((frame) => frame.type === 'run.started')).run_id as string;
    await client.waitFor((frame) => frame.type === 'message.delta');

    client.send({ action: 'cancel', run_id: runId });
    const end = await client.waitFor(isEnd(runId));
    client.send({ action: 'cancel', run_id: runId });
    const conflict = await client.waitFor((frame) => frame.type === 'error');

    const run = await call(`/v1/runs/${runId}`, { key });
    expect(end.type).toBe('run.cancelled');
    expect(run.body.status).toBe('cancelled');
    expect(conflict.error).toMatchObject({ type: 'conflict_error', code: 'run_not_cancellable' });
    // The text the client saw before the cancel stays in the session, and what the provider streamed is
    // charged as the cancelled run reports it.
    const streamed = deltaText(client.frames, runId);
    expect(streamed.length).toBeGreaterThan(0);
    expect(
      (await storedAssistant(key, sessionId)).map((message: { content: string }) => message.content),
    ).toEqual([streamed]);
    expect(run.body.usage.completion_tokens).toBeGreaterThan(0);
    const usage = (await call('/v1/usage', { key })).body.tokens_per_month;
    expect(usage.used).toBe(run.body.usage.total_tokens);
  });

  it('never starts a second run for a repeated client_request_id, even sent twice at once', async () => {
    const { key, sessionId } = await tenantWithSession('dedupe-co');
    fake.enqueue({ type: 'text', text: 'Only once.' });
    const client = await connect(key);
    const frame = {
      action: 'chat',
      session_id: sessionId,
      content: 'Once only',
      client_request_id: 'req-42',
    };

    client.send(frame);
    client.send(frame);
    const runId = (await client.waitFor((f) => f.type === 'run.started')).run_id as string;
    await client.waitFor(isEnd(runId));
    client.send(frame);
    await client.waitForCount((f) => f.type === 'run.completed', 2, 20_000);

    const messages = await call(`/v1/sessions/${sessionId}/messages?limit=100`, { key });
    const runIds = new Set(client.frames.filter((f) => f.run_id).map((f) => f.run_id));
    expect(runIds).toEqual(new Set([runId]));
    expect(messages.body.data.filter((m: { role: string }) => m.role === 'user')).toHaveLength(1);
    expect(messages.body.data.filter((m: { role: string }) => m.role === 'assistant')).toHaveLength(1);
  });
});

describe('bad input over the WebSocket', () => {
  it('answers resume and cancel on another tenant’s run with 404, and reveals nothing', async () => {
    const owner = await tenantWithSession('owner-co');
    const other = await tenantWithSession('other-co');
    const ownerClient = await connect(owner.key);
    ownerClient.send({ action: 'chat', session_id: owner.sessionId, content: 'Mine' });
    const runId = (await ownerClient.waitFor((frame) => frame.type === 'run.started')).run_id as string;
    await ownerClient.waitFor(isEnd(runId));
    const intruder = await connect(other.key);

    intruder.send({ action: 'resume', run_id: runId, after_seq: 0 });
    const resumed = await intruder.waitFor((frame) => frame.type === 'error');
    intruder.send({ action: 'cancel', run_id: runId });
    await intruder.waitFor((frame) => frame.type === 'error' && frame !== resumed);

    const errors = intruder.frames.filter((frame) => frame.type === 'error');
    expect(errors.map((frame) => frame.error.code)).toEqual(['run_not_found', 'run_not_found']);
    expect(intruder.frames.filter((frame) => frame.run_id)).toEqual([]);
  });

  it('refuses a chat on an unknown session, an empty message and a malformed frame, writing nothing', async () => {
    const { key, sessionId } = await tenantWithSession('bad-co');
    const client = await connect(key);

    client.send({ action: 'chat', session_id: 'ses_unknown', content: 'Hello?' });
    await client.waitFor((frame) => frame.type === 'error');
    client.send({ action: 'chat', session_id: sessionId, content: '   ' });
    await client.waitForCount(() => true, 2, 20_000);
    client.send('{"action":"chat",');
    await client.waitForCount(() => true, 3, 20_000);

    const messages = await call(`/v1/sessions/${sessionId}/messages`, { key });
    expect(client.frames.map((frame) => frame.error?.code)).toEqual([
      'session_not_found',
      'invalid_frame',
      'invalid_json',
    ]);
    expect(messages.body.data).toEqual([]);
  });
});

describe('the dead-letter path and redelivery', () => {
  it('marks a run whose job keeps failing failed (readable reason), and completes it once redriven after the fix', async () => {
    const { tenantId, key, sessionId } = await tenantWithSession('poison-co');
    // The fault: the tenant's token counter is corrupted (`used` is not a number). The HTTP chat's
    // admission holds tokens without reading `used`, but every step the worker records settles into it, so
    // each attempt fails with a store error: the job is retried, then dead-lettered. Until the fix the
    // model answers with the fake's fallback text, which is never recorded. (A WebSocket chat reads `used`
    // for its budget check and is refused at once with `corrupt_record`: the chat is sent over HTTP, and
    // the socket follows the run by resuming it.)
    const documents = DynamoDBDocumentClient.from(clients.dynamodb);
    const counter = {
      TableName: tableName(TABLES.quotas.id),
      Key: quotaCounterKey(tenantId, 'tokens_per_month', quotaWindow('tokens_per_month', new Date()).window),
    };
    await documents.send(
      new UpdateCommand({
        ...counter,
        UpdateExpression: 'SET #used = :broken',
        ExpressionAttributeNames: { '#used': 'used' },
        ExpressionAttributeValues: { ':broken': 'not-a-number' },
      }),
    );
    const client = await connect(key);
    const sent = await call(`/v1/sessions/${sessionId}/messages`, {
      key,
      method: 'POST',
      body: { content: 'Will this work?', async: true },
    });
    expect(sent.status).toBe(202);
    const runId = sent.body.run.id as string;
    client.send({ action: 'resume', run_id: runId, after_seq: 0 });

    const failed = await client.waitFor(isEnd(runId), 120_000);
    const run = await call(`/v1/runs/${runId}`, { key });
    const queues = await chatRunsQueues();
    await documents.send(
      new UpdateCommand({
        ...counter,
        UpdateExpression: 'SET #used = :zero',
        ExpressionAttributeNames: { '#used': 'used' },
        ExpressionAttributeValues: { ':zero': 0 },
      }),
    );
    fake.enqueue({ type: 'text', text: 'Back on track.' });
    const { moved } = await redriveLocally(clients.sqs, queues);
    const completed = await client
      .waitFor((frame) => frame.run_id === runId && frame.type === 'run.completed', 60_000)
      .catch((error) => {
        console.error(
          platform.logs
            .filter((l) => /run\.execute|error|ERROR|warn|fail/i.test(l))
            .slice(-30)
            .join('\n'),
        );
        throw error;
      });

    const after = await call(`/v1/runs/${runId}`, { key });
    expect(failed).toMatchObject({ type: 'run.failed', error: { code: 'run_dead_lettered' } });
    expect(run.body).toMatchObject({ status: 'failed', error: { code: 'run_dead_lettered' } });
    expect(run.body.error.message).toContain('redrive');
    expect(moved).toHaveLength(1);
    expect(completed.seq).toBeGreaterThan(failed.seq);
    expect(after.body.status).toBe('completed');
    expect((await storedAssistant(key, sessionId))[0].content).toBe('Back on track.');
  }, 180_000);

  it('a duplicate delivery of a finished run’s job charges nothing more and appends nothing', async () => {
    const { tenantId, key, sessionId } = await tenantWithSession('redelivery-co');
    fake.enqueue({ type: 'text', text: 'Charged once.' });
    const client = await connect(key);
    client.send({ action: 'chat', session_id: sessionId, content: 'Once' });
    const runId = (await client.waitFor((frame) => frame.type === 'run.started')).run_id as string;
    await client.waitFor(isEnd(runId));
    const usageBefore = (await call('/v1/usage', { key })).body.tokens_per_month;
    const framesBefore = client.frames.length;
    const { sourceUrl } = await chatRunsQueues();

    // The job of a finished run is settled at once ('run.execute: nothing to do') and deleted.
    const batch = await sentAndSettled(
      platform.platform.events,
      async () =>
        (
          await clients.sqs.send(
            new SendMessageCommand({
              QueueUrl: sourceUrl,
              MessageBody: JSON.stringify(runExecuteEnvelope(tenantId, runId, sessionId)),
            }),
          )
        ).MessageId!,
      { timeoutMs: 60_000, what: 'the duplicate job to be settled' },
    );

    const usageAfter = (await call('/v1/usage', { key })).body.tokens_per_month;
    const messages = await call(`/v1/sessions/${sessionId}/messages?limit=100`, { key });
    expect(batch).toMatchObject({ ok: true, deleted: batch.received.map((message) => message.messageId) });
    expect(usageAfter.used).toBe(usageBefore.used);
    expect(usageAfter.used).toBeGreaterThan(0);
    expect(messages.body.data).toHaveLength(2);
    expect(client.frames.length).toBe(framesBefore);
  });
});
