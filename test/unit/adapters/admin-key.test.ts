import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminKeyProvider } from '../../../functions/adapters/secrets/admin-key';

const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockClient(secrets);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenantic-dev-admin-AbCdEf';

beforeEach(() => {
  sm.reset();
  // Powertools Parameters' cache reads the wall clock: the tests move it.
  vi.useFakeTimers({ toFake: ['Date'], now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('AdminKeyProvider', () => {
  it('locally compares against ADMIN_API_KEY without Secrets Manager', async () => {
    const provider = new AdminKeyProvider({ localKey: 'local-admin', secretArn: ARN, secrets });

    expect(await provider.isAdminKey('local-admin')).toBe(true);
    expect(await provider.isAdminKey('local-admiN')).toBe(false);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('reads the secret once per cache period', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'cloud-admin' });
    const provider = new AdminKeyProvider({ secretArn: ARN, secrets, maxAgeSeconds: 60 });

    expect(await provider.isAdminKey('cloud-admin')).toBe(true);
    vi.setSystemTime(59_000);
    expect(await provider.isAdminKey('nope')).toBe(false);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    vi.setSystemTime(61_000);
    await provider.isAdminKey('cloud-admin');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: ARN });
  });

  it('sees a rotated key once the max age has passed, and not before', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'admin-before' })
      .resolves({ SecretString: 'admin-after' });
    const provider = new AdminKeyProvider({ secretArn: ARN, secrets, maxAgeSeconds: 300 });

    expect(await provider.isAdminKey('admin-before')).toBe(true);
    vi.setSystemTime(299_000);
    expect(await provider.isAdminKey('admin-after')).toBe(false);
    vi.setSystemTime(301_000);
    expect(await provider.isAdminKey('admin-after')).toBe(true);
    expect(await provider.isAdminKey('admin-before')).toBe(false);
  });

  it('accepts a JSON secret with a `key` field', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ key: 'json-admin' }) });
    expect(await new AdminKeyProvider({ secretArn: ARN, secrets }).isAdminKey('json-admin')).toBe(true);
  });

  it('keeps the last key when a refresh fails, and fails when it never had one', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'cloud-admin' }).rejects(new Error('network'));
    const provider = new AdminKeyProvider({ secretArn: ARN, secrets, maxAgeSeconds: 1 });
    await provider.isAdminKey('x');
    vi.setSystemTime(10_000);
    expect(await provider.isAdminKey('cloud-admin')).toBe(true);

    const fresh = new AdminKeyProvider({ secretArn: ARN, secrets });
    await expect(fresh.isAdminKey('cloud-admin')).rejects.toThrow('network');
  });

  it('matches nothing when no admin key is configured', async () => {
    expect(await new AdminKeyProvider({}).isAdminKey('')).toBe(false);
    expect(await new AdminKeyProvider({}).isAdminKey('anything')).toBe(false);
  });
});
