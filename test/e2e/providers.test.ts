// e2e: two LLM providers on the whole local platform, each a fake OpenAI server with its own key. A
// stage declaring both is synthesized; the developer's TENANTIC_PROVIDER_<NAME>_* variables point them
// at the fakes. A tenant's requests reach the right upstream with the right key, its default model is
// used when a request names none, and one provider going down falls back without touching the other,
// unless the stage named a model of the other as a fallback: then that model answers, marked degraded.
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLocalModel } from '../../local/template-model';
import { configDirWith } from '../helpers/cdk-synth';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../helpers/fake-openai-server';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

const STAGE = 'providers';
const LIMITS = { contextTokens: 16_000, maxOutputTokens: 2_000 };
// The stage's reviewed base URLs; locally each is replaced by its fake's (TENANTIC_PROVIDER_*_BASE_URL).
const LLM = {
  defaultModel: 'alpha-chat',
  providers: {
    alpha: {
      baseUrl: 'https://alpha.example/v1',
      models: { 'alpha-chat': { ...LIMITS, fallbacks: ['beta-chat'] }, 'alpha-mini': LIMITS },
    },
    beta: { baseUrl: 'https://beta.example/v1', models: { 'beta-chat': LIMITS } },
  },
};

let platform: TestPlatform;
let alpha: FakeOpenAiServer;
let beta: FakeOpenAiServer;

const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  platform.call(path, { ...init, key: platform.adminKey });

const createTenant = (name: string, body: Record<string, unknown> = {}) => platform.createTenant(name, body);

const ask = (model: string): OpenAI.ChatCompletionCreateParamsNonStreaming => ({
  model,
  messages: [{ role: 'user', content: 'Hello' }],
  max_tokens: 32,
});

beforeAll(async () => {
  // Each fake refuses (401) any key but its own.
  alpha = await startFakeOpenAiServer({ apiKey: 'key-alpha', models: ['alpha-chat', 'alpha-mini'] });
  beta = await startFakeOpenAiServer({ apiKey: 'key-beta', models: ['beta-chat'] });
  const model = await loadLocalModel({ stage: STAGE, configDir: configDirWith(STAGE, { llm: LLM }) });
  platform = await startTestPlatform({
    model,
    stage: STAGE,
    functionEnvOverrides: {
      TENANTIC_PROVIDER_ALPHA_API_KEY: 'key-alpha',
      TENANTIC_PROVIDER_ALPHA_BASE_URL: alpha.baseURL,
      TENANTIC_PROVIDER_BETA_API_KEY: 'key-beta',
      TENANTIC_PROVIDER_BETA_BASE_URL: beta.baseURL,
      TENANTIC_LLM_TIMEOUT_MS: '3000',
    },
  });
}, 240_000);

afterAll(async () => {
  await platform?.stop();
  await alpha?.close().catch(() => undefined); // the last test closes it on purpose
  await beta?.close();
});

describe('two providers, one stage', () => {
  it('lists every model of the stage, each owned by its provider', async () => {
    const { openai } = await createTenant('models-co');

    const models = [];
    for await (const model of openai.models.list()) models.push({ id: model.id, owned_by: model.owned_by });

    expect(models).toEqual([
      { id: 'alpha-chat', owned_by: 'alpha' },
      { id: 'alpha-mini', owned_by: 'alpha' },
      { id: 'beta-chat', owned_by: 'beta' },
    ]);
  });

  it("sends each model to its provider with that provider's key, and nothing to the other", async () => {
    const { openai } = await createTenant('routing-co');
    const before = { alpha: alpha.chatRequests().length, beta: beta.chatRequests().length };
    alpha.enqueue({ type: 'text', text: 'Alpha here.' });
    beta.enqueue({ type: 'text', text: 'Beta here.' });

    const fromAlpha = await openai.chat.completions.create(ask('alpha-mini'));
    const fromBeta = await openai.chat.completions.create(ask('beta-chat'));

    expect(fromAlpha.choices[0]?.message.content).toBe('Alpha here.');
    expect(fromBeta.choices[0]?.message.content).toBe('Beta here.');
    const alphaCalls = alpha.chatRequests().slice(before.alpha);
    const betaCalls = beta.chatRequests().slice(before.beta);
    expect(alphaCalls.map((request) => request.body?.model)).toEqual(['alpha-mini']);
    expect(betaCalls.map((request) => request.body?.model)).toEqual(['beta-chat']);
    expect(alphaCalls[0]?.headers.authorization).toBe('Bearer key-alpha');
    expect(betaCalls[0]?.headers.authorization).toBe('Bearer key-beta');
  });

  it("uses the tenant's default model for a completion and a session that name none", async () => {
    const { openai, key } = await createTenant('default-co', {
      models: ['alpha-chat', 'beta-chat'],
      default_model: 'beta-chat',
    });
    const before = { alpha: alpha.chatRequests().length, beta: beta.chatRequests().length };
    beta.enqueue({ type: 'text', text: 'Default answer.' }, { type: 'text', text: 'Session answer.' });

    // The official client's types insist on a model; the API does not.
    const { model: _named, ...unnamed } = ask('beta-chat');
    const completion = await openai.chat.completions.create(
      unnamed as OpenAI.ChatCompletionCreateParamsNonStreaming,
    );
    const session = await platform.call('/v1/sessions', { method: 'POST', key, body: {} });
    const turn = await platform.call(`/v1/sessions/${session.body.id}/messages`, {
      method: 'POST',
      key,
      body: { content: 'Hello' },
    });

    expect(completion.model).toBe('beta-chat');
    expect(completion.choices[0]?.message.content).toBe('Default answer.');
    expect(session.body.model).toBe('beta-chat');
    expect(turn.status).toBe(200);
    expect(turn.body.message.content).toBe('Session answer.');
    expect(beta.chatRequests().length - before.beta).toBe(2);
    expect(alpha.chatRequests().length).toBe(before.alpha);
  });

  it('refuses a default model outside the catalogue or the tenant models with a 400, changing nothing', async () => {
    const { tenant } = await createTenant('strict-co', { models: ['alpha-chat'] });

    const unknown = await admin(`/v1/tenants/${tenant.id}`, {
      method: 'PATCH',
      body: { default_model: 'gamma-9' },
    });
    const notAllowed = await admin(`/v1/tenants/${tenant.id}`, {
      method: 'PATCH',
      body: { default_model: 'beta-chat', name: 'renamed' },
    });
    const created = await admin('/v1/tenants', {
      method: 'POST',
      body: { name: 'never-co', models: ['alpha-chat'], default_model: 'beta-chat' },
    });
    const after = await admin(`/v1/tenants/${tenant.id}`);

    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'unknown_model', param: 'default_model' });
    expect(notAllowed.status).toBe(400);
    expect(notAllowed.body.error).toMatchObject({ code: 'model_not_allowed', param: 'default_model' });
    expect(created.status).toBe(400);
    expect(after.body).toMatchObject({ name: 'strict-co', default_model: null, models: ['alpha-chat'] });
    const listed = await admin('/v1/tenants?limit=100');
    expect(listed.body.data.map((listedTenant: { name: string }) => listedTenant.name)).not.toContain(
      'never-co',
    );
  });

  it("refuses another provider's model the tenant may not use, reaching no upstream", async () => {
    const { openai } = await createTenant('alpha-only-co', { models: ['alpha-chat'] });
    const before = { alpha: alpha.chatRequests().length, beta: beta.chatRequests().length };

    await expect(openai.chat.completions.create(ask('beta-chat'))).rejects.toMatchObject({
      status: 400,
      code: 'model_not_allowed',
    });
    await expect(openai.chat.completions.create(ask('gamma-9'))).rejects.toMatchObject({
      status: 400,
      code: 'model_not_found',
    });
    expect(alpha.chatRequests().length).toBe(before.alpha);
    expect(beta.chatRequests().length).toBe(before.beta);
  });

  it('falls back to the rule-based provider when one provider is down, without touching the other', async () => {
    const { openai } = await createTenant('outage-co');
    await alpha.close();
    const betaBefore = beta.chatRequests().length;

    const degraded = await openai.chat.completions
      .create(ask('alpha-mini'))
      .withResponse()
      .then(({ data, response }) => ({ data, headers: response.headers }));
    const betaDuringOutage = beta.chatRequests().length;
    beta.enqueue({ type: 'text', text: 'Beta is fine.' });
    const healthy = await openai.chat.completions
      .create(ask('beta-chat'))
      .withResponse()
      .then(({ data, response }) => ({ data, headers: response.headers }));

    expect(degraded.headers.get('x-tenantic-provider')).toBe('rule-based');
    expect(degraded.headers.get('x-tenantic-degraded')).toBe('true');
    expect(betaDuringOutage).toBe(betaBefore);
    expect(healthy.data.choices[0]?.message.content).toBe('Beta is fine.');
    expect(healthy.headers.get('x-tenantic-provider')).toBe('beta');
    expect(healthy.headers.get('x-tenantic-degraded')).toBeNull();
  });

  it("answers from the fallback model on the other provider when a model's provider is down", async () => {
    // The tenant may use alpha-chat only: its fallback is the stage's policy, not a model it asked for.
    const { openai, key } = await createTenant('fallback-co', { models: ['alpha-chat'] });
    const betaBefore = beta.chatRequests().length;
    beta.enqueue(
      { type: 'text', text: 'Beta stands in.', usage: { prompt_tokens: 9, completion_tokens: 4 } },
      { type: 'text', text: 'Beta streams in.' },
    );

    const { data, response } = await openai.chat.completions.create(ask('alpha-chat')).withResponse();
    const chunks = [];
    const stream = await openai.chat.completions.create({
      ...ask('alpha-chat'),
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      chunks.push(chunk);
    }
    const usage = await platform.call('/v1/usage', { key });

    expect(data.model).toBe('beta-chat');
    expect(data.choices[0]?.message.content).toBe('Beta stands in.');
    expect((data as unknown as { degraded: boolean }).degraded).toBe(true);
    expect(response.headers.get('x-tenantic-provider')).toBe('beta');
    expect(response.headers.get('x-tenantic-degraded')).toBe('true');
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')).toBe('Beta streams in.');
    expect(new Set(chunks.map((chunk) => chunk.model))).toEqual(new Set(['beta-chat']));
    const betaCalls = beta.chatRequests().slice(betaBefore);
    expect(betaCalls.map((request) => request.body?.model)).toEqual(['beta-chat', 'beta-chat']);
    expect(betaCalls.every((request) => request.headers.authorization === 'Bearer key-beta')).toBe(true);
    expect(betaCalls.every((request) => (request.body?.max_tokens as number) <= 32)).toBe(true);
    // Charged as usual: what the fallback reported, for both calls, and nothing left reserved.
    const streamed = chunks.find((chunk) => chunk.usage)?.usage?.total_tokens ?? 0;
    expect(data.usage?.total_tokens).toBe(13);
    expect(streamed).toBeGreaterThan(0);
    expect(usage.status).toBe(200);
    expect(usage.body.tokens_per_month).toMatchObject({ used: 13 + streamed, reserved: 0 });
  });
});
