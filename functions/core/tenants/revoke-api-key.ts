// Use case: revoke an API key; it stops working on the next request.
import { type TenantDeps, toApiKeyResource, unixSeconds } from './model';
import type { ApiKeyResource } from './schemas';

/**
 * Revoking twice is harmless and keeps the first `revoked_at`.
 *
 * @example
 * await revokeApiKey(deps, 'ten_01jd...', 'key_01jd...'); // or ApiKeyNotFoundError (404)
 */
export const revokeApiKey = async (
  deps: TenantDeps,
  tenantId: string,
  keyId: string,
): Promise<ApiKeyResource> =>
  toApiKeyResource(await deps.store.revokeApiKey(tenantId, keyId, unixSeconds(deps.clock.now())));
