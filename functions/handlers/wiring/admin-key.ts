// Handlers' wiring: the admin key, for the one function that recognises it (authorizer-http).
import { secretsManager } from '../../adapters/aws-clients';
import { AdminKeyProvider } from '../../adapters/secrets/admin-key';
import type { AdminKeyVerifier } from '../../core/ports/admin-key';
import { ENV } from '../../platform/env';

let admin: AdminKeyVerifier | undefined;

/** ADMIN_API_KEY locally; the Secrets Manager secret in the cloud. */
export const adminKeyVerifier = (env: NodeJS.ProcessEnv = process.env): AdminKeyVerifier => {
  admin ??= new AdminKeyProvider({
    ...(env[ENV.adminApiKey] ? { localKey: env[ENV.adminApiKey] } : {}),
    ...(env[ENV.adminKeySecretArn]
      ? { secretArn: env[ENV.adminKeySecretArn], secrets: secretsManager() }
      : {}),
  });
  return admin;
};
