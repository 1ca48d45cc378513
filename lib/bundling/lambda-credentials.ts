// Bundling: what a Lambda bundle gets in place of @aws-sdk/credential-provider-node (lib/bundling/bundle.ts
// substitutes it; the local platform and tests, which run the sources, keep the SDK's own chain).
// In Lambda the execution role's credentials are always in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, the first link of the SDK's default chain, so the other links (SSO, ini files,
// credential_process, web identity, EC2 instance metadata, and the STS/SSO clients they carry) never run
// there; they weighed ~125 KiB minified in every bundle. The container endpoint stays as a second link, for
// runtimes that hand credentials out that way (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI).
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { chain, memoize } from '@smithy/core/config';
import type { AwsCredentialIdentity } from '@smithy/types';

type Init = Parameters<typeof fromEnv>[0] & Parameters<typeof fromHttp>[0];

/** As the SDK's: credentials with an expiry are fetched again once they have five minutes left. */
export const credentialsWillNeedRefresh = (credentials?: AwsCredentialIdentity): boolean =>
  credentials?.expiration !== undefined;

export const credentialsTreatedAsExpired = (credentials?: AwsCredentialIdentity): boolean =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;

/**
 * The SDK clients' `credentialDefaultProvider`, same name and shape as credential-provider-node's.
 *
 * @example
 * const credentials = await defaultProvider({})(); // { accessKeyId, secretAccessKey, sessionToken }
 */
export const defaultProvider = (init: Init = {}) =>
  memoize(
    // fromHttp throws as it is built when no endpoint is set, so it is built only if the first link fails.
    chain(fromEnv(init), () => fromHttp(init)()),
    credentialsTreatedAsExpired,
    credentialsWillNeedRefresh,
  );
