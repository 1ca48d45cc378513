// e2e: what a tester sees of a full flow on the local platform's console, as CloudWatch would get it: JSON
// log lines with their correlation ids and EMF metric records in namespace Tenantic; and never a key: the
// admin key, the tenants' API keys and the provider's key appear in no log line of the whole run.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../helpers/fake-openai-server';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { afterInvocations, waitOn } from '../helpers/platform-events';

const PROVIDER_KEY = `sk-provider-${randomBytes(16).toString('hex')}`;
let platform: TestPlatform;
let fake: FakeOpenAiServer;
const tenantKeys: string[] = [];

/** The JSON objects among the function log lines (`[function-id] {...}`). */
const jsonLines = (): Record<string, unknown>[] =>
  platform.logs.flatMap((line) => {
    const json = line.slice(line.indexOf(']') + 2);
    try {
      return [JSON.parse(json) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

/** A full flow: the admin API, a streamed and a plain completion, an inline run, a queued run, a socket. */
const runFlow = async () => {
  const { key, tenant, openai } = await platform.createTenant('observed-co');
  tenantKeys.push(key);
  const second = await platform.call(`/v1/tenants/${tenant.id}/api-keys`, {
    method: 'POST',
    key: platform.adminKey,
    body: {},
  });
  tenantKeys.push(second.body.key);

  fake.enqueue(
    { type: 'text', text: 'Streamed answer.' },
    { type: 'text', text: 'Plain answer.' },
    { type: 'text', text: 'Inline answer.' },
    { type: 'text', text: 'Queued answer.' },
  );
  const stream = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Stream please' }],
    stream: true,
  });
  for await (const _ of stream) {
    // read to the end
  }
  await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
  const session = await platform.call('/v1/sessions', { method: 'POST', key, body: {} });
  await platform.call(`/v1/sessions/${session.body.id}/messages`, {
    method: 'POST',
    key,
    body: { content: 'Inline' },
  });
  const queued = await platform.call(`/v1/sessions/${session.body.id}/messages`, {
    method: 'POST',
    key: second.body.key,
    body: { content: 'Later', async: true },
  });
  await afterInvocations(
    platform.platform.events,
    'chat-worker',
    async () => {
      const run = await platform.call(`/v1/runs/${queued.body.run.id}`, { key });
      return ['completed', 'failed', 'cancelled'].includes(run.body?.status) ? run : undefined;
    },
    { timeoutMs: 60_000, what: 'the queued run to end' },
  );

  const socket = new WebSocket(platform.wsUrl, { headers: { authorization: `Bearer ${key}` } });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.close();
  // A refused key is logged as refused, never quoted.
  await platform.call('/v1/models', { key: `${key.slice(0, -4)}nope` });
  return { tenantId: tenant.id as string, sessionId: session.body.id as string };
};

let flow: { tenantId: string; sessionId: string };

beforeAll(async () => {
  fake = await startFakeOpenAiServer({ apiKey: PROVIDER_KEY });
  platform = await startTestPlatform({
    functionEnvOverrides: { OPENAI_API_KEY: PROVIDER_KEY, OPENAI_BASE_URL: fake.baseURL },
  });
  flow = await runFlow();
  // Let the last function lines ($disconnect, the worker's batch line) reach the capture.
  await waitOn(
    platform.platform.events,
    'log',
    () => (jsonLines().some((line) => line.message === 'batch processed') ? true : undefined),
    { timeoutMs: 60_000, what: "the worker's batch line" },
  );
});

afterAll(async () => {
  await platform?.stop();
  await fake?.close();
});

describe('logs of a full flow on the local platform', () => {
  it('contain no admin key, tenant API key or provider key, in any function, on any stream', () => {
    const secrets = {
      admin: platform.adminKey,
      provider: PROVIDER_KEY,
      ...Object.fromEntries(tenantKeys.map((k, i) => [`tenant${i}`, k])),
    };
    const everything = platform.logs.join('\n');

    expect(tenantKeys).toHaveLength(2);
    expect(platform.logs.length).toBeGreaterThan(20);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(16);
      expect(everything.includes(secret), `${name} key found in the function logs`).toBe(false);
    }
  });

  it('are JSON lines carrying their correlation ids: request, tenant, session, connection', () => {
    const lines = jsonLines();
    const served = lines.filter((line) => line.message === 'request' && line.tenant_id === flow.tenantId);

    expect(served.length).toBeGreaterThan(3);
    expect(served.every((line) => typeof line.request_id === 'string' && line.level === 'info')).toBe(true);
    expect(lines.some((line) => line.session_id === flow.sessionId && line.tenant_id === flow.tenantId)).toBe(
      true,
    );
    expect(
      lines.some((line) => typeof line.connection_id === 'string' && line.tenant_id === flow.tenantId),
    ).toBe(true);
  });

  it('show the EMF metric records CloudWatch would get: answers by model and provider, runs by status', () => {
    const records = jsonLines().filter((line) => line._aws !== undefined) as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
      [key: string]: unknown;
    }[];
    const answers = records.filter((record) => record.LlmAnswers !== undefined);

    expect(answers.length).toBeGreaterThanOrEqual(4);
    expect(answers[0]).toMatchObject({
      stage: 'dev',
      model: 'gpt-4o-mini',
      provider: 'openai',
      tenant_id: flow.tenantId,
    });
    expect(records.every((record) => record._aws.CloudWatchMetrics[0]?.Namespace === 'Tenantic')).toBe(true);
    expect(records.flatMap((record) => record._aws.CloudWatchMetrics[0]?.Dimensions.flat())).not.toContain(
      'tenant_id',
    );
    expect(records.some((record) => record.RunsFinished === 1 && record.status === 'completed')).toBe(true);
  });
});
