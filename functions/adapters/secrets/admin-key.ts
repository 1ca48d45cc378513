// Adapter: AdminKeyVerifier. The admin key lives in Secrets Manager in the cloud (cached for a few
// minutes so the authorizer does not call it per request) and in ADMIN_API_KEY locally.
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AdminKeyVerifier } from '../../core/ports/admin-key';
import { secretsEqual } from '../../core/tenants/api-key-format';

export interface AdminKeyProviderOptions {
  /** Local: the key itself. Wins over `secretArn`. */
  readonly localKey?: string;
  readonly secretArn?: string;
  readonly secrets?: SecretsManagerClient;
  readonly cacheMs?: number;
  readonly now?: () => number;
}

const DEFAULT_CACHE_MS = 5 * 60_000;

/** The secret may be the bare key, or JSON with a `key` field (CDK's generateStringKey style). */
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

export class AdminKeyProvider implements AdminKeyVerifier {
  private cached: { key: string; at: number } | undefined;

  constructor(private readonly options: AdminKeyProviderOptions) {}

  async isAdminKey(candidate: string): Promise<boolean> {
    const expected = await this.currentKey();
    return expected !== undefined && expected.length > 0 && secretsEqual(candidate, expected);
  }

  private async currentKey(): Promise<string | undefined> {
    if (this.options.localKey) return this.options.localKey;
    const { secretArn, secrets } = this.options;
    if (!secretArn || !secrets) return undefined;
    const now = (this.options.now ?? Date.now)();
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? DEFAULT_CACHE_MS))
      return this.cached.key;
    try {
      const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
      if (!SecretString) throw new Error(`secret ${secretArn} has no string value`);
      this.cached = { key: keyFromSecret(SecretString), at: now };
    } catch (error) {
      // A rotation-time blip should not lock the admin out: keep using the last key we read.
      if (!this.cached) throw error;
    }
    return this.cached.key;
  }
}
