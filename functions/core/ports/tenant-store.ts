// Port: persistence of tenants, their API keys and the key-hash lookup.
import type { Page, PageRequest } from '../pagination';
import type { ApiKeyRecord, TenantChanges, TenantRecord } from '../tenants/schemas';

/** What the hash lookup yields: enough to find the key and its tenant. */
export interface ApiKeyHashEntry {
  readonly tenantId: string;
  readonly keyId: string;
  readonly keyHash: string;
}

/**
 * Tenants and API keys. Implementations translate their own failures into domain errors:
 * a missing tenant or key is `TenantNotFoundError`/`ApiKeyNotFoundError`, a duplicate is
 * `TenantConflictError`, a cursor they did not issue is `InvalidCursorError`. Every write is all or
 * nothing.
 *
 * @example
 * const store: TenantStore = new DynamoTenantStore(dynamoDocumentClient(), tableName);
 * await store.createTenant(record);
 * const page = await store.listTenants({ limit: 20 });
 * const { key, tenant } = await store.getApiKeyWithTenant(tenantId, keyId); // one round trip
 */
export interface TenantStore {
  /** Fails with `TenantConflictError` if the id exists. */
  createTenant(tenant: TenantRecord): Promise<void>;
  getTenant(tenantId: string): Promise<TenantRecord | undefined>;
  /** Oldest first (ids sort by creation time). */
  listTenants(page: PageRequest): Promise<Page<TenantRecord>>;
  /** Applies the changes atomically and returns the new record; `TenantNotFoundError` if absent. */
  updateTenant(tenantId: string, changes: TenantChanges): Promise<TenantRecord>;

  /** Writes the key and its hash lookup together; `TenantNotFoundError` if the tenant is absent. */
  createApiKey(key: ApiKeyRecord): Promise<void>;
  listApiKeys(tenantId: string, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  /** Sets `revoked_at` once (a second revoke keeps the first time); `ApiKeyNotFoundError` if absent. */
  revokeApiKey(tenantId: string, keyId: string, revokedAt: number): Promise<ApiKeyRecord>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyHashEntry | undefined>;
  /** The key and its tenant in one read, for checks on every request. */
  getApiKeyWithTenant(
    tenantId: string,
    keyId: string,
  ): Promise<{ key: ApiKeyRecord | undefined; tenant: TenantRecord | undefined }>;
}
