import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AdminKeyProvider } from '../../../functions/adapters/secrets/admin-key';

const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockClient(secrets);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenantic-dev-admin-AbCdEf';

beforeEach(() => sm.reset());

describe('AdminKeyProvider', () => {
  it('locally compares against ADMIN_API_KEY without Secrets Manager', async () => {
    const provider = new AdminKeyProvider({ localKey: 'local-admin', secretArn: ARN, secrets });

    expect(await provider.isAdminKey('local-admin')).toBe(true);
    expect(await provider.isAdminKey('local-admiN')).toBe(false);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('reads the secret once per cache period', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'cloud-admin' });
    let now = 0;
    const provider = new AdminKeyProvider({ secretArn: ARN, secrets, cacheMs: 60_000, now: () => now });

    expect(await provider.isAdminKey('cloud-admin')).toBe(true);
    now = 59_000;
    expect(await provider.isAdminKey('nope')).toBe(false);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now = 61_000;
    await provider.isAdminKey('cloud-admin');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: ARN });
  });

  it('accepts a JSON secret with a `key` field', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ key: 'json-admin' }) });
    expect(await new AdminKeyProvider({ secretArn: ARN, secrets }).isAdminKey('json-admin')).toBe(true);
  });

  it('keeps the last key when a refresh fails, and fails when it never had one', async () => {
    let now = 0;
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'cloud-admin' }).rejects(new Error('network'));
    const provider = new AdminKeyProvider({ secretArn: ARN, secrets, cacheMs: 1, now: () => now });
    await provider.isAdminKey('x');
    now = 10;
    expect(await provider.isAdminKey('cloud-admin')).toBe(true);

    const fresh = new AdminKeyProvider({ secretArn: ARN, secrets });
    await expect(fresh.isAdminKey('cloud-admin')).rejects.toThrow('network');
  });

  it('matches nothing when no admin key is configured', async () => {
    expect(await new AdminKeyProvider({}).isAdminKey('')).toBe(false);
    expect(await new AdminKeyProvider({}).isAdminKey('anything')).toBe(false);
  });
});
