import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../../functions/core/tenants/api-key-format';
import { authenticateApiKey, bearerToken } from '../../../functions/core/tenants/authenticate-api-key';
import { createApiKey } from '../../../functions/core/tenants/create-api-key';
import { createTenant } from '../../../functions/core/tenants/create-tenant';
import { revokeApiKey } from '../../../functions/core/tenants/revoke-api-key';
import { updateTenant } from '../../../functions/core/tenants/update-tenant';
import { tenantDeps } from '../../helpers/tenant-fakes';

const setup = async () => {
  const deps = tenantDeps();
  const tenant = await createTenant(deps, { name: 'Acme' });
  const key = await createApiKey(deps, tenant.id);
  deps.store.calls.length = 0;
  return { deps, tenant, key, auth: { store: deps.store, stage: 'dev' } };
};

describe('authenticateApiKey', () => {
  it('resolves a valid key to its tenant and key', async () => {
    const { tenant, key, auth } = await setup();

    const result = await authenticateApiKey(auth, key.key);

    expect(result).toMatchObject({ ok: true, tenant: { id: tenant.id }, key: { id: key.id } });
  });

  it('refuses malformed keys and bad checksums before any lookup', async () => {
    const { key, auth, deps } = await setup();
    const tampered = `${key.key.slice(0, 20)}${key.key[20] === 'A' ? 'B' : 'A'}${key.key.slice(21)}`;

    expect(await authenticateApiKey(auth, 'tk_dev_short')).toEqual({
      ok: false,
      reason: 'malformed_api_key',
    });
    expect(await authenticateApiKey(auth, tampered)).toEqual({ ok: false, reason: 'malformed_api_key' });
    expect(await authenticateApiKey(auth, undefined)).toEqual({ ok: false, reason: 'missing_api_key' });
    expect(deps.store.calls).toEqual([]);
  });

  it('refuses a well-formed key nobody issued', async () => {
    const { auth } = await setup();
    expect(await authenticateApiKey(auth, generateApiKey('dev'))).toEqual({
      ok: false,
      reason: 'unknown_api_key',
    });
  });

  it("refuses a revoked key and a suspended tenant at once, naming the genuine key's owner", async () => {
    const { deps, tenant, key, auth } = await setup();
    const other = await createApiKey(deps, tenant.id);

    await revokeApiKey(deps, tenant.id, key.id);
    expect(await authenticateApiKey(auth, key.key)).toEqual({
      ok: false,
      reason: 'revoked_api_key',
      owner: { tenantId: tenant.id, keyId: key.id },
    });

    await updateTenant(deps, tenant.id, { status: 'suspended' });
    expect(await authenticateApiKey(auth, other.key)).toEqual({
      ok: false,
      reason: 'tenant_suspended',
      owner: { tenantId: tenant.id, keyId: other.id },
    });
  });
});

describe('bearerToken', () => {
  it('takes the token of a Bearer header only', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
