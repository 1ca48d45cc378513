// The chat-api function through its real handler with in-memory fakes: every sample event in
// events/chat-api, and the bad inputs of the Chat issue that apply to sessions, each a 4xx that writes nothing.
import { readdirSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { FUNCTIONS } from '../../../functions/platform/functions';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createChatApi } = await import('../../../functions/handlers/chat-api');
const { buildOpenApiDocument } = await import('../../../functions/handlers/http/openapi-document');
const { lambdaContext, loadEvent, memoryLogger, seedSampleTenant, tenantDeps } = await import(
  '../../helpers/tenant-fakes'
);
const { seedSampleSession, sessionDeps } = await import('../../helpers/session-fakes');
const { encodeCursor } = await import('../../../functions/core/pagination');
const { newId } = await import('../../../functions/core/ids');

const { InMemoryQuotaLedger } = await import('../../helpers/quota-fakes');
const { RecordingJobQueue } = await import('../chat/fakes');
const { RuleBasedLlmClient } = await import('../../../functions/core/llm/rule-based-provider');
const { createBuiltinToolRegistry } = await import('../../../functions/core/tools/builtin');
const { DEFAULT_CHAT_TIMEOUTS } = await import('../../../functions/core/chat/model');
type ChatDeps = import('../../../functions/core/chat/model').ChatDeps;

type Response = { statusCode: number; headers: Record<string, string>; body: string };

const setup = async (options: { maxBodyBytes?: number } = {}) => {
  const tenants = tenantDeps();
  const sample = await seedSampleTenant(tenants.store);
  const deps = sessionDeps();
  const seeded = await seedSampleSession(deps.store);
  const { logger } = memoryLogger();
  const ledger = new InMemoryQuotaLedger();
  const jobs = new RecordingJobQueue();
  // The rule-based provider: deterministic, and it calls the calculator when asked for arithmetic.
  const chat: ChatDeps = {
    ...deps,
    ledger,
    llm: new RuleBasedLlmClient(),
    tools: createBuiltinToolRegistry(),
    jobs,
    timeouts: DEFAULT_CHAT_TIMEOUTS,
  };
  const api = createChatApi(
    { ...deps, tenants: tenants.store, ledger, chat: () => chat },
    { logger, maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 },
  );
  const call = async (event: Record<string, unknown>) => {
    const response = (await api(event as never, lambdaContext())) as Response;
    const isJson = response.headers?.['Content-Type']?.startsWith('application/json');
    return { ...response, json: response.body && isJson ? JSON.parse(response.body) : undefined };
  };
  return { deps, tenants, sample, seeded, call, ledger, jobs };
};

const casesOf = () =>
  readdirSync(new URL('../../../events/chat-api', import.meta.url))
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.replace(/\.json$/, ''));

/** What each sample is for; a new sample must say what it expects. */
const EXPECTED: Record<string, { statusCode: number; json?: unknown }> = {
  'create-session': {
    statusCode: 201,
    json: { object: 'session', model: 'gpt-4o-mini', tools: ['calculator'] },
  },
  'create-session-disallowed-model': {
    statusCode: 400,
    json: { error: { code: 'model_not_allowed', param: 'model' } },
  },
  'list-sessions': { statusCode: 200, json: { object: 'list', has_more: false } },
  'get-session': { statusCode: 200, json: { object: 'session', title: 'Order 1042' } },
  'get-unknown-session': { statusCode: 404, json: { error: { code: 'session_not_found' } } },
  'delete-session': { statusCode: 200, json: { object: 'session.deleted', deleted: true } },
  'list-messages': { statusCode: 200, json: { object: 'list', data: [] } },
  'get-run': { statusCode: 200, json: { object: 'run', status: 'completed' } },
  'send-message': {
    statusCode: 200,
    json: { message: { role: 'assistant' }, run: { object: 'run', status: 'completed' } },
  },
  'send-message-async': { statusCode: 202, json: { run: { object: 'run', status: 'queued' } } },
  'send-empty-message': { statusCode: 400, json: { error: { code: 'invalid_body', param: 'content' } } },
  'cancel-finished-run': { statusCode: 409, json: { error: { code: 'run_not_cancellable' } } },
  'chat-completion': {
    statusCode: 200,
    json: { object: 'chat.completion', model: 'rule-based', degraded: true, choices: [{ index: 0 }] },
  },
  'chat-completion-stream': { statusCode: 200 },
  'chat-completion-unknown-model': {
    statusCode: 400,
    json: { error: { type: 'invalid_request_error', code: 'model_not_found', param: 'model' } },
  },
};

const withBody = (body: unknown) => {
  const event = loadEvent('chat-api', 'create-session');
  event.body = typeof body === 'string' ? body : JSON.stringify(body);
  return event;
};

describe('chat-api sample events', () => {
  it('the function is in the catalogue with the grants it needs', () => {
    expect(FUNCTIONS['chat-api']).toMatchObject({
      tables: { tenants: 'read', sessions: 'readWrite' },
      bucket: 'readWrite',
    });
    expect(casesOf().length).toBeGreaterThan(0);
  });

  for (const name of casesOf()) {
    it(name, async () => {
      const expected = EXPECTED[name];
      expect(expected, 'add this sample to EXPECTED').toBeDefined();
      const { call } = await setup();

      const response = await call(loadEvent('chat-api', name));

      expect(response.statusCode).toBe(expected?.statusCode);
      if (expected?.json) expect(response.json).toMatchObject(expected.json);
    });
  }

  it('the deployed entry module builds from the environment alone', async () => {
    const module = await import(/* @vite-ignore */ `../../../${FUNCTIONS['chat-api'].entry}`);
    expect(typeof module.handler).toBe('function');
  });
});

describe('chat-api routes', () => {
  it('a created session is listed, read, and gone after delete (with its run)', async () => {
    const { call, seeded } = await setup();

    const created = await call(loadEvent('chat-api', 'create-session'));
    const listed = await call(loadEvent('chat-api', 'list-sessions'));
    const get = loadEvent('chat-api', 'get-session');
    get.pathParameters.id = created.json.id;
    get.rawPath = `/v1/sessions/${created.json.id}`;
    const read = await call(get);
    const deleted = await call(loadEvent('chat-api', 'delete-session'));
    const runAfter = await call(loadEvent('chat-api', 'get-run'));
    const listedAfter = await call(loadEvent('chat-api', 'list-sessions'));

    // Newest first: ids sort by creation time.
    expect(listed.json.data.map((s: { id: string }) => s.id)).toEqual(
      [created.json.id, seeded.sessionId].sort().reverse(),
    );
    expect(read.json).toEqual(created.json);
    expect(deleted.json.id).toBe(seeded.sessionId);
    expect(runAfter.statusCode).toBe(404);
    expect(listedAfter.json.data.map((s: { id: string }) => s.id)).toEqual([created.json.id]);
  });

  it("another tenant's session and run are 404, exactly like unknown ones", async () => {
    const { call, deps, seeded } = await setup();
    const foreignTenant = newId('ten', Date.UTC(2026, 0, 1));
    // Move the seeded session and run to another tenant: the sample tenant must no longer reach them.
    for (const [key, value] of [...deps.store.sessions]) {
      deps.store.sessions.delete(key);
      deps.store.sessions.set(key.replace(/^[^/]+/, foreignTenant), { ...value, tenant_id: foreignTenant });
    }
    for (const [key, value] of [...deps.store.runs]) {
      deps.store.runs.delete(key);
      deps.store.runs.set(key.replace(/^[^/]+/, foreignTenant), { ...value, tenant_id: foreignTenant });
    }

    for (const name of ['get-session', 'delete-session', 'list-messages', 'get-run']) {
      const response = await call(loadEvent('chat-api', name));
      expect(response.statusCode, name).toBe(404);
      expect(response.json.error.type).toBe('not_found_error');
    }
    expect(deps.store.sessions.has(`${foreignTenant}/${seeded.sessionId}`)).toBe(true);
  });

  it('a malformed id in the path is a 404, not a 400 or 500', async () => {
    const { call } = await setup();
    for (const [name, id] of [
      ['get-session', 'ses_123'],
      ['get-run', 'ses_01m7yqb1d03tbw4khk5yv9h3k2'],
      ['list-messages', '../../etc'],
    ] as const) {
      const event = loadEvent('chat-api', name);
      event.pathParameters.id = id;
      expect((await call(event)).statusCode, `${name} ${id}`).toBe(404);
    }
  });

  it.each([
    ['unknown field', { title: 'x', temperature: 2 }, 'temperature'],
    ['empty title', { title: '   ' }, 'title'],
    ['oversized title', { title: 'x'.repeat(257) }, 'title'],
    ['empty system prompt', { system_prompt: '' }, 'system_prompt'],
    ['oversized system prompt', { system_prompt: 'x'.repeat(32_769) }, 'system_prompt'],
    ['wrong type', { tools: 'calculator' }, 'tools'],
    ['malformed tool name', { tools: ['rm -rf'] }, 'tools[0]'],
    ['repeated tool', { tools: ['calculator', 'calculator'] }, 'tools'],
    [
      'too many metadata pairs',
      { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
      'metadata',
    ],
    ['oversized metadata key', { metadata: { ['k'.repeat(65)]: 'v' } }, `metadata.${'k'.repeat(65)}`],
    ['oversized metadata value', { metadata: { k: 'v'.repeat(513) } }, 'metadata.k'],
    ['non-string metadata value', { metadata: { k: 1 } }, 'metadata.k'],
    ['disallowed tool', { tools: ['shell_exec'] }, 'tools[0]'],
    ['unknown model', { model: 'gpt-9' }, 'model'],
  ])('create refuses %s with a 400 naming the field, writing nothing', async (_case, body, param) => {
    const { call, deps } = await setup();
    const before = deps.store.sessions.size;

    const response = await call(withBody(body));

    expect(response.statusCode).toBe(400);
    expect(response.json.error).toMatchObject({ type: 'invalid_request_error' });
    expect(response.json.error.param).toBe(param);
    expect(deps.store.sessions.size).toBe(before);
  });

  it('create refuses malformed JSON, a wrong content type and an oversized body', async () => {
    const { call, deps } = await setup({ maxBodyBytes: 1024 });
    const wrongType = withBody({ title: 'x' });
    wrongType.headers['content-type'] = 'text/plain';

    const responses = [
      await call(withBody('{"title": ')),
      await call(wrongType),
      await call(withBody({ system_prompt: 'x'.repeat(2000) })),
    ];

    expect(responses.map((response) => response.statusCode)).toEqual([400, 415, 413]);
    expect(deps.store.sessions.size).toBe(1);
  });

  it('list routes refuse a tampered cursor, a bad order and a bad limit with 400', async () => {
    const { call } = await setup();
    const cases: [string, Record<string, string>, string][] = [
      ['list-sessions', { after: 'garbage!' }, 'after'],
      ['list-messages', { after: encodeCursor('ses_01m7yqb1d03tbw4khk5yv9h3k2') }, 'after'],
      ['list-messages', { order: 'sideways' }, 'order'],
      ['list-sessions', { limit: '0' }, 'limit'],
      ['list-sessions', { page: '2' }, 'page'],
    ];
    for (const [name, query, param] of cases) {
      const event = loadEvent('chat-api', name);
      event.queryStringParameters = { ...event.queryStringParameters, ...query };

      const response = await call(event);

      expect(response.statusCode, `${name} ${JSON.stringify(query)}`).toBe(400);
      expect(response.json.error.param).toBe(param);
    }
  });

  it('a suspended tenant cannot reach the routes', async () => {
    const { call, tenants, sample } = await setup();
    await tenants.store.updateTenant(sample.tenantId, { status: 'suspended', updated_at: 1 });

    const response = await call(loadEvent('chat-api', 'list-sessions'));

    expect(response.statusCode).toBe(403);
  });
});

describe('OpenAPI document', () => {
  it('covers the session routes with their schemas', () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };

    expect(doc.paths['/v1/sessions']?.post?.operationId).toBe('createSession');
    expect(doc.paths['/v1/sessions']?.get?.operationId).toBe('listSessions');
    expect(doc.paths['/v1/sessions/{id}']?.delete?.responses).toHaveProperty('404');
    expect(doc.paths['/v1/sessions/{id}/messages']?.get?.operationId).toBe('listMessages');
    expect(doc.paths['/v1/runs/{id}']?.get?.operationId).toBe('getRun');
    expect(doc.paths['/v1/sessions/{id}/messages']?.post?.operationId).toBe('sendMessage');
    expect(doc.paths['/v1/runs/{id}/cancel']?.post?.operationId).toBe('cancelRun');
    expect(doc.paths['/v1/chat/completions']?.post?.operationId).toBe('createChatCompletion');
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining([
        'Session',
        'Message',
        'Run',
        'CreateSessionRequest',
        'SessionList',
        'MessageList',
      ]),
    );
  });
});
