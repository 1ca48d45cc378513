// Unit: where each LLM provider's key and base URL come from: the developer's variables locally (OPENAI_*
// only for the default provider), the provider's own Secrets Manager secret in the cloud, the catalogue's
// base URL otherwise; and the wiring's router reads only the secret of the provider a request goes to
// (again only once the secret's max age has passed: test/unit/adapters/secret-rotation.test.ts).
import '../../helpers/test-env';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../functions/config';
import { llmClient, providerEndpoint } from '../../../functions/handlers/wiring/llm';
import { TEST_ENV } from '../../helpers/test-env';

const sm = mockClient(SecretsManagerClient);
const LIMITS = { contextTokens: 32_000, maxOutputTokens: 4_000 };
const ENV = {
  ...TEST_ENV,
  TENANTIC_LLM_PROVIDERS: JSON.stringify({
    openai: { models: { 'gpt-4o-mini': LIMITS } },
    'mistral-eu': { baseUrl: 'https://api.mistral.ai/v1', models: { 'mistral-small': LIMITS } },
  }),
  TENANTIC_DEFAULT_PROVIDER: 'openai',
};
const config = loadConfig(ENV);
const MISTRAL_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:mistral-AbCdEf';

beforeEach(() => sm.reset());
afterEach(() => vi.unstubAllEnvs());

describe('providerEndpoint', () => {
  it('gives OPENAI_API_KEY and OPENAI_BASE_URL to the default provider only', async () => {
    const env = { OPENAI_API_KEY: 'sk-default', OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1' };

    const openai = await providerEndpoint('openai', config, env);
    const mistral = await providerEndpoint('mistral-eu', config, env);

    expect(openai).toEqual({ apiKey: 'sk-default', baseURL: 'http://127.0.0.1:9999/v1' });
    expect(mistral).toEqual({ baseURL: 'https://api.mistral.ai/v1' });
  });

  it("prefers the provider's own variables, and reads no secret when a key is given", async () => {
    const env = {
      OPENAI_API_KEY: 'sk-default',
      TENANTIC_PROVIDER_OPENAI_API_KEY: 'sk-openai',
      TENANTIC_PROVIDER_MISTRAL_EU_API_KEY: 'sk-mistral',
      TENANTIC_PROVIDER_MISTRAL_EU_BASE_URL: 'http://127.0.0.1:8888/v1',
      TENANTIC_PROVIDER_MISTRAL_EU_API_KEY_SECRET_ARN: MISTRAL_ARN,
    };

    expect(await providerEndpoint('openai', config, env)).toMatchObject({ apiKey: 'sk-openai' });
    expect(await providerEndpoint('mistral-eu', config, env)).toEqual({
      apiKey: 'sk-mistral',
      baseURL: 'http://127.0.0.1:8888/v1',
    });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it("reads a provider's key from its own secret in the cloud (bare or {key}); an empty one means no key", async () => {
    sm.on(GetSecretValueCommand, { SecretId: MISTRAL_ARN }).resolves({
      SecretString: '{"key":"sk-mistral"}',
    });
    sm.on(GetSecretValueCommand, { SecretId: 'openai-arn' }).resolves({ SecretString: '{"key":""}' });
    const env = {
      TENANTIC_PROVIDER_MISTRAL_EU_API_KEY_SECRET_ARN: MISTRAL_ARN,
      TENANTIC_PROVIDER_OPENAI_API_KEY_SECRET_ARN: 'openai-arn',
    };

    expect(await providerEndpoint('mistral-eu', config, env)).toEqual({
      apiKey: 'sk-mistral',
      baseURL: 'https://api.mistral.ai/v1',
    });
    expect(await providerEndpoint('openai', config, env)).toEqual({});
  });
});

describe('llmClient (production wiring)', () => {
  it('reads only the secret of the provider a request goes to, once, and answers offline while it is empty', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"key":""}' });
    vi.stubEnv('TENANTIC_LLM_PROVIDERS', ENV.TENANTIC_LLM_PROVIDERS);
    // Secrets of their own: the tests above left theirs in the (max-age) cache of the shared client.
    const mistralArn = `${MISTRAL_ARN}-wiring`;
    vi.stubEnv('TENANTIC_PROVIDER_OPENAI_API_KEY_SECRET_ARN', 'openai-arn-wiring');
    vi.stubEnv('TENANTIC_PROVIDER_MISTRAL_EU_API_KEY_SECRET_ARN', mistralArn);
    const llm = llmClient();
    const ask = { model: 'mistral-small', messages: [{ role: 'user' as const, content: 'hello' }] };

    const first = await llm.complete(ask);
    const second = await llm.complete(ask);

    expect(first).toMatchObject({ provider: 'rule-based', degraded: true });
    expect(second).toMatchObject({ provider: 'rule-based', degraded: true });
    expect(sm.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId)).toEqual([
      mistralArn,
    ]);
  });
});
