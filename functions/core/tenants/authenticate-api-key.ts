// Use case: resolve a bearer token to a tenant, refusing malformed, unknown, revoked and suspended keys.
import type { TenantStore } from '../ports/tenant-store';
import { checkApiKeyFormat, hashApiKey, hashesEqual } from './api-key-format';
import type { AuthFailure } from './errors';
import type { ApiKeyRecord, TenantRecord } from './schemas';

/** A genuine key's owner: known even when the key is revoked or its tenant suspended. */
export interface KeyOwner {
  readonly tenantId: string;
  readonly keyId: string;
}

export type Authentication =
  | { readonly ok: true; readonly tenant: TenantRecord; readonly key: ApiKeyRecord }
  | {
      readonly ok: false;
      readonly reason: AuthFailure;
      /** Set when the key was issued by us but is not in good standing (revoked, tenant suspended). */
      readonly owner?: KeyOwner;
    };

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export const bearerToken = (header: string | undefined | null): string | undefined => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
};

/**
 * The standing of a known key: revoked keys and suspended tenants fail at once. Used by the
 * authorizer and again by every request, because API Gateway caches authorizer answers.
 *
 * @example
 * const result = await checkApiKeyStanding(store, 'ten_01jd...', 'key_01jd...');
 * if (!result.ok) throw authFailureError(result.reason);
 */
export const checkApiKeyStanding = async (
  store: TenantStore,
  tenantId: string,
  keyId: string,
): Promise<Authentication> => {
  const { key, tenant } = await store.getApiKeyWithTenant(tenantId, keyId);
  if (!key || !tenant || key.tenant_id !== tenantId) return { ok: false, reason: 'unknown_api_key' };
  if (key.revoked_at !== null) return { ok: false, reason: 'revoked_api_key' };
  if (tenant.status !== 'active') return { ok: false, reason: 'tenant_suspended' };
  return { ok: true, tenant, key };
};

/**
 * Who issued-by-us key this is, from its hash alone (one read): its owner, whatever its standing, or the
 * reason it is no key of ours. For the HTTP authorizer, whose answer only names the caller: the route's
 * middleware checks the standing (`checkApiKeyStanding`) on every request anyway.
 *
 * @example
 * const found = await identifyApiKey({ store, stage: 'dev' }, token);
 * if ('owner' in found) context = { principal: 'tenant', ...found.owner };
 */
export const identifyApiKey = async (
  deps: { readonly store: TenantStore; readonly stage: string },
  token: string,
): Promise<{ readonly owner: KeyOwner } | { readonly reason: AuthFailure }> => {
  if (checkApiKeyFormat(token, deps.stage) !== undefined) return { reason: 'malformed_api_key' };
  const hash = hashApiKey(token);
  const entry = await deps.store.findApiKeyByHash(hash);
  if (!entry || !hashesEqual(entry.keyHash, hash)) return { reason: 'unknown_api_key' };
  return { owner: { tenantId: entry.tenantId, keyId: entry.keyId } };
};

/**
 * Format and checksum are checked before any read; the stored hash is compared in constant time.
 *
 * @example
 * const result = await authenticateApiKey({ store, stage: 'dev' }, 'tk_dev_...');
 * if (result.ok) console.log(result.tenant.id);
 */
export const authenticateApiKey = async (
  deps: { readonly store: TenantStore; readonly stage: string },
  token: string | undefined,
): Promise<Authentication> => {
  if (!token) return { ok: false, reason: 'missing_api_key' };
  if (checkApiKeyFormat(token, deps.stage) !== undefined) return { ok: false, reason: 'malformed_api_key' };
  const hash = hashApiKey(token);
  const entry = await deps.store.findApiKeyByHash(hash);
  if (!entry || !hashesEqual(entry.keyHash, hash)) return { ok: false, reason: 'unknown_api_key' };
  const standing = await checkApiKeyStanding(deps.store, entry.tenantId, entry.keyId);
  if (standing.ok || standing.reason === 'unknown_api_key') return standing;
  return { ...standing, owner: { tenantId: entry.tenantId, keyId: entry.keyId } };
};
