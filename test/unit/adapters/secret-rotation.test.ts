// Unit: a rotated secret reaches a warm function within the stage's max age: the provider key the `openai`
// client sends (read through Powertools Parameters on each request, from its cache), and readSecretKey.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openAiConnector } from '../../../functions/adapters/openai/openai-connector';
import { SecretKeys, secretMaxAgeSeconds } from '../../../functions/adapters/secrets/secret-key';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../../helpers/fake-openai-server';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenantic-dev-openai-AbCdEf';
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockClient(secrets);
let server: FakeOpenAiServer;

beforeAll(async () => {
  server = await startFakeOpenAiServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  sm.reset();
  server.reset();
  // Powertools Parameters' cache reads the wall clock; only Date is faked, the HTTP server runs for real.
  vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 11, 8) });
});
afterEach(() => {
  vi.useRealTimers();
});

const bearers = () => server.chatRequests().map((request) => request.headers.authorization);
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('provider key rotation', () => {
  it('sends the rotated key once the max age has passed, without a cold start', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: '{"key":"sk-before"}' })
      .resolves({ SecretString: '{"key":"sk-after"}' });
    const keys = new SecretKeys(secrets, 300);
    const connect = openAiConnector({
      resolve: async () => ({ apiKey: await keys.read(ARN), baseURL: server.baseURL }),
    });
    const client = await connect('openai');

    await client?.complete(ask);
    vi.setSystemTime(Date.now() + 299_000);
    await client?.complete(ask);
    vi.setSystemTime(Date.now() + 2_000);
    await client?.complete(ask);

    expect(bearers()).toEqual(['Bearer sk-before', 'Bearer sk-before', 'Bearer sk-after']);
    // Once at connect, once after the max age: not once per request.
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('keeps the last key while Secrets Manager fails, and throws only if it never read one', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'sk-bare' }).rejects(new Error('throttled'));
    const keys = new SecretKeys(secrets, 60);

    expect(await keys.read(ARN)).toBe('sk-bare');
    vi.setSystemTime(Date.now() + 61_000);
    expect(await keys.read(ARN)).toBe('sk-bare');
    await expect(new SecretKeys(secrets, 60).read(`${ARN}-other`)).rejects.toThrow('throttled');
  });

  it("takes the stage's max age from the environment, 300 s when unset or malformed", () => {
    expect(secretMaxAgeSeconds({ TENANTIC_SECRETS_MAX_AGE_SECONDS: '60' })).toBe(60);
    expect(secretMaxAgeSeconds({})).toBe(300);
    expect(secretMaxAgeSeconds({ TENANTIC_SECRETS_MAX_AGE_SECONDS: 'soon' })).toBe(300);
  });
});
