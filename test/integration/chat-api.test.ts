// The chat-api routes through the real handler, middleware and adapters: DynamoDB Local for tenants and
// sessions, s3rver for offloaded content, with the sample events of events/chat-api.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../../functions/adapters/dynamodb/tenant-store';
import { S3BlobStore } from '../../functions/adapters/s3/blob-store';
import { newId } from '../../functions/core/ids';
import { randomIds } from '../../functions/core/ports/id-generator';
import { appendMessages } from '../../functions/core/sessions/append-messages';
import type { SessionDeps } from '../../functions/core/sessions/model';
import { TABLES } from '../../functions/platform/tables';
import { type DynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { InMemoryQuotaLedger } from '../helpers/quota-fakes';
import { type S3Local, startS3Local } from '../helpers/s3-local';

await vi.hoisted(() => import('../helpers/test-env'));

const { createChatApi } = await import('../../functions/handlers/chat-api');
const { lambdaContext, loadEvent, manualClock, memoryLogger, seedSampleTenant } = await import(
  '../helpers/tenant-fakes'
);
const { sessionSettings } = await import('../helpers/session-fakes');

let dynamo: DynamoDbLocal;
let s3: S3Local;

beforeAll(async () => {
  [dynamo, s3] = await Promise.all([startDynamoDbLocal(), startS3Local()]);
});

afterAll(async () => {
  await Promise.all([dynamo?.stop(), s3?.stop()]);
});

type Response = { statusCode: number; body: string };
type SampleEvent = {
  pathParameters: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  rawPath: string;
};

const setup = async () => {
  const suffix = `${Date.now()}`;
  await Promise.all([
    dynamo.createTable(TABLES.tenants, `tenants-api-${suffix}`),
    dynamo.createTable(TABLES.sessions, `sessions-api-${suffix}`),
    s3.createBucket(`files-api-${suffix}`),
  ]);
  const tenants = new DynamoTenantStore(dynamo.documentClient, `tenants-api-${suffix}`);
  const sample = await seedSampleTenant(tenants as never);
  const store = new DynamoSessionStore(
    dynamo.documentClient,
    `sessions-api-${suffix}`,
    new S3BlobStore(s3.client, `files-api-${suffix}`),
  );
  const clock = manualClock(Date.now());
  const deps: SessionDeps = { store, clock, ids: randomIds(clock), settings: sessionSettings };
  const api = createChatApi(
    { ...deps, tenants, ledger: new InMemoryQuotaLedger() },
    { logger: memoryLogger().logger },
  );
  const call = async (name: string, change: (event: SampleEvent) => void = () => {}) => {
    const event = loadEvent('chat-api', name);
    change(event);
    const response = (await api(event, lambdaContext())) as Response;
    return { statusCode: response.statusCode, json: response.body ? JSON.parse(response.body) : undefined };
  };
  const onSession = (id: string) => (event: SampleEvent) => {
    event.pathParameters.id = id;
    event.rawPath = event.rawPath.replace(/ses_[0-9a-z]+/, id);
  };
  return { deps, sample, call, onSession };
};

describe('chat-api on DynamoDB Local and s3rver', () => {
  it('creates, lists, reads, pages messages of, and deletes a session', async () => {
    const { deps, sample, call, onSession } = await setup();

    const created = await call('create-session');
    const id = created.json.id as string;
    await appendMessages(deps, sample.tenantId, id, {
      append_id: 'seed',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: `${'long '.repeat(8000)}end` },
        { role: 'user', content: 'third' },
      ],
    });
    const listed = await call('list-sessions');
    const read = await call('get-session', onSession(id));
    const newest = await call('list-messages', (event) => {
      onSession(id)(event);
      event.queryStringParameters = { limit: '2', order: 'desc' };
    });
    const rest = await call('list-messages', (event) => {
      onSession(id)(event);
      event.queryStringParameters = { limit: '2', order: 'desc', after: newest.json.next_cursor };
    });
    const deleted = await call('delete-session', onSession(id));
    const gone = await call('get-session', onSession(id));
    const messagesGone = await call('list-messages', onSession(id));

    expect(created.statusCode).toBe(201);
    expect(listed.json.data.map((session: { id: string }) => session.id)).toEqual([id]);
    expect(read.json).toEqual(created.json);
    expect(newest.json.data.map((m: { content: string }) => m.content.slice(-5))).toEqual(['third', 'g end']);
    expect(newest.json.has_more).toBe(true);
    expect(rest.json.data.map((m: { content: string }) => m.content)).toEqual(['first']);
    expect(rest.json.has_more).toBe(false);
    expect(deleted).toEqual({ statusCode: 200, json: { id, object: 'session.deleted', deleted: true } });
    expect(gone.statusCode).toBe(404);
    expect(messagesGone.statusCode).toBe(404);
  });

  it("another tenant's session is a 404 on every route; a disallowed model writes nothing", async () => {
    const { call, onSession, deps } = await setup();
    const foreignTenant = newId('ten', Date.now());
    const foreignId = newId('ses', Date.now());
    await deps.store.createSession({
      id: foreignId,
      tenant_id: foreignTenant,
      title: 'not yours',
      model: 'gpt-4o-mini',
      system_prompt: null,
      tools: null,
      metadata: {},
      created_at: 1,
      updated_at: 1,
      last_message_id: null,
    });

    const refused = await call('create-session-disallowed-model');
    const afterRefusal = await call('list-sessions');
    const unknown = await call('get-unknown-session');

    expect(refused.statusCode).toBe(400);
    expect(refused.json.error.param).toBe('model');
    expect(afterRefusal.json.data).toEqual([]);
    expect(unknown.statusCode).toBe(404);
    for (const name of ['get-session', 'delete-session', 'list-messages']) {
      expect((await call(name, onSession(foreignId))).statusCode, name).toBe(404);
    }
    expect(await deps.store.getSession(foreignTenant, foreignId)).toMatchObject({ title: 'not yours' });
  });
});
