// Adapter: AdminKeyVerifier. The admin key lives in Secrets Manager in the cloud, read through Powertools
// Parameters and cached for the stage's secret max age (so the authorizer does not call Secrets Manager per
// request, and a rotated key takes effect within that age), and in ADMIN_API_KEY locally.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AdminKeyVerifier } from '../../core/ports/admin-key';
import { secretsEqual } from '../../core/tenants/api-key-format';
import { SecretKeys } from './secret-key';

export interface AdminKeyProviderOptions {
  /** Local: the key itself. Wins over `secretArn`. */
  readonly localKey?: string;
  readonly secretArn?: string;
  readonly secrets?: SecretsManagerClient;
  /** Default: the stage's `secretsMaxAgeSeconds` (TENANTIC_SECRETS_MAX_AGE_SECONDS), else 300. */
  readonly maxAgeSeconds?: number;
}

export class AdminKeyProvider implements AdminKeyVerifier {
  private readonly keys: SecretKeys | undefined;

  constructor(private readonly options: AdminKeyProviderOptions) {
    this.keys =
      options.secrets && !options.localKey
        ? new SecretKeys(options.secrets, options.maxAgeSeconds)
        : undefined;
  }

  async isAdminKey(candidate: string): Promise<boolean> {
    const expected = await this.currentKey();
    return expected !== undefined && expected.length > 0 && secretsEqual(candidate, expected);
  }

  private async currentKey(): Promise<string | undefined> {
    if (this.options.localKey) return this.options.localKey;
    const { secretArn } = this.options;
    if (!secretArn || !this.keys) return undefined;
    return this.keys.read(secretArn);
  }
}
