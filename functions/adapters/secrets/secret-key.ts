// Adapter: reads a key (an upstream API key) from a Secrets Manager secret, once per cold start.
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * The secret may hold the bare key, or JSON with a `key` field (CDK's `generateStringKey` style).
 *
 * @example
 * const apiKey = await readSecretKey(secretsManager(), process.env.TENANTIC_PROVIDER_OPENAI_API_KEY_SECRET_ARN);
 */
export const readSecretKey = async (client: SecretsManagerClient, secretArn: string): Promise<string> => {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error(`secret ${secretArn} has no string value`);
  try {
    const parsed = JSON.parse(SecretString) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { key?: unknown }).key === 'string') {
      return (parsed as { key: string }).key;
    }
  } catch {
    // not JSON: the bare key
  }
  return SecretString;
};
