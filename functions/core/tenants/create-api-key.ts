// Use case: issue an API key for a tenant; the key is returned once and only its hash is kept.
import { apiKeyPrefix, generateApiKey, hashApiKey } from './api-key-format';
import { type TenantDeps, unixSeconds } from './model';
import type { ApiKeyRecord, CreatedApiKeyResource } from './schemas';

/**
 * @example
 * const { key } = await createApiKey(deps, 'ten_01jd...'); // 'tk_dev_...': show it now, it is not stored
 */
export const createApiKey = async (deps: TenantDeps, tenantId: string): Promise<CreatedApiKeyResource> => {
  const key = generateApiKey(deps.settings.stage);
  const record: ApiKeyRecord = {
    id: deps.ids.newId('key'),
    tenant_id: tenantId,
    prefix: apiKeyPrefix(key),
    key_hash: hashApiKey(key),
    created_at: unixSeconds(deps.clock.now()),
    revoked_at: null,
  };
  await deps.store.createApiKey(record);
  return { id: record.id, object: 'api_key', key, prefix: record.prefix, created_at: record.created_at };
};
