// Adapter: reads a key (an LLM provider's, the admin key) from a Secrets Manager secret through Powertools
// Parameters, cached for `maxAge` seconds: a warm function sees a rotated key within that age, and calls
// Secrets Manager at most once per age and secret. A failed refresh keeps the last key read (a rotation-time
// blip must not take a provider or the admin out); a first read that fails throws.

import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ENV } from '../../platform/env';

/** Unless the stage says otherwise (`secretsMaxAgeSeconds`, TENANTIC_SECRETS_MAX_AGE_SECONDS). */
const DEFAULT_SECRET_MAX_AGE_SECONDS = 300;

/** The stage's secret max age from the environment, or the default. */
export const secretMaxAgeSeconds = (env: NodeJS.ProcessEnv = process.env): number => {
  const value = Number(env[ENV.secretsMaxAgeSeconds]);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_SECRET_MAX_AGE_SECONDS;
};

/** The secret may hold the bare key, or JSON with a `key` field (CDK's `generateStringKey` style). */
const keyFromSecret = (secret: string): string => {
  try {
    const parsed = JSON.parse(secret) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { key?: unknown }).key === 'string') {
      return (parsed as { key: string }).key;
    }
  } catch {
    // not JSON: the bare key
  }
  return secret;
};

/**
 * The keys of one Secrets Manager client's secrets, each cached for `maxAgeSeconds`.
 *
 * @example
 * const keys = new SecretKeys(secretsManager(), 300);
 * const apiKey = await keys.read(process.env.TENANTIC_PROVIDER_OPENAI_API_KEY_SECRET_ARN);
 */
export class SecretKeys {
  private readonly provider: SecretsProvider;
  /** The last key read per secret, for a refresh that fails. */
  private readonly last = new Map<string, string>();

  constructor(
    client: SecretsManagerClient,
    private readonly maxAgeSeconds: number = secretMaxAgeSeconds(),
  ) {
    this.provider = new SecretsProvider({ awsSdkV3Client: client });
  }

  async read(secretId: string): Promise<string> {
    try {
      const value = await this.provider.get(secretId, { maxAge: this.maxAgeSeconds });
      if (typeof value !== 'string') throw new Error(`secret ${secretId} has no string value`);
      const key = keyFromSecret(value);
      this.last.set(secretId, key);
      return key;
    } catch (error) {
      const last = this.last.get(secretId);
      if (last === undefined) throw error;
      return last;
    }
  }
}

const perClient = new WeakMap<SecretsManagerClient, SecretKeys>();

/**
 * One secret's key, through the client's shared cache (max age: the stage's, see secretMaxAgeSeconds).
 *
 * @example
 * const apiKey = await readSecretKey(secretsManager(), process.env.TENANTIC_PROVIDER_OPENAI_API_KEY_SECRET_ARN);
 */
export const readSecretKey = (client: SecretsManagerClient, secretArn: string): Promise<string> => {
  let keys = perClient.get(client);
  if (!keys) {
    keys = new SecretKeys(client);
    perClient.set(client, keys);
  }
  return keys.read(secretArn);
};
