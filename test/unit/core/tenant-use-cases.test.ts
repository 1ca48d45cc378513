import { describe, expect, it } from 'vitest';
import { idPattern, newId } from '../../../functions/core/ids';
import { hashApiKey } from '../../../functions/core/tenants/api-key-format';
import { createApiKey } from '../../../functions/core/tenants/create-api-key';
import { createTenant } from '../../../functions/core/tenants/create-tenant';
import { getTenant } from '../../../functions/core/tenants/get-tenant';
import { listApiKeys } from '../../../functions/core/tenants/list-api-keys';
import { listModels } from '../../../functions/core/tenants/list-models';
import { listTenants } from '../../../functions/core/tenants/list-tenants';
import { revokeApiKey } from '../../../functions/core/tenants/revoke-api-key';
import { updateTenant } from '../../../functions/core/tenants/update-tenant';
import { PLANS, settings, tenantDeps } from '../../helpers/tenant-fakes';

describe('createTenant', () => {
  it('stores an active tenant on the default plan and renders its effective quotas', async () => {
    const deps = tenantDeps();

    const tenant = await createTenant(deps, {
      name: 'Acme',
      quotas: { tokens_per_month: 5, storage_bytes: null },
    });

    expect(tenant.id).toMatch(idPattern('ten'));
    expect(tenant).toMatchObject({
      object: 'tenant',
      name: 'Acme',
      plan: 'free',
      status: 'active',
      tools: null,
    });
    // No list of its own: the tenant may use the stage's models, and stores none, so it follows the stage.
    expect(tenant.models).toEqual(settings.allowedModels);
    expect(deps.store.tenants.get(tenant.id)?.models).toBeNull();
    expect(tenant.quotas).toEqual({ ...PLANS.free, tokens_per_month: 5, storage_bytes: null });
    expect(tenant.quota_overrides).toEqual({ tokens_per_month: 5, storage_bytes: null });
    expect(deps.store.tenants.get(tenant.id)?.name).toBe('Acme');
  });

  it('refuses an unknown plan with a 400 naming `plan`, and writes nothing', async () => {
    const deps = tenantDeps();

    await expect(createTenant(deps, { name: 'Acme', plan: 'platinum' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'unknown_plan',
      param: 'plan',
    });
    expect(deps.store.tenants.size).toBe(0);
  });

  it('refuses a model the stage does not allow, naming its index', async () => {
    const deps = tenantDeps();

    await expect(createTenant(deps, { name: 'Acme', models: ['gpt-4o', 'llama-99b'] })).rejects.toMatchObject(
      {
        statusCode: 400,
        code: 'unknown_model',
        param: 'models[1]',
      },
    );
    expect(deps.store.tenants.size).toBe(0);
  });
});

describe('updateTenant', () => {
  it('changes only the given fields; quotas replace the overrides so absent ones return to the plan', async () => {
    const deps = tenantDeps();
    const created = await createTenant(deps, { name: 'Acme', quotas: { tokens_per_month: 5 } });
    deps.clock.advance(60_000);

    const updated = await updateTenant(deps, created.id, {
      plan: 'pro',
      quotas: { requests_per_minute: null },
    });

    expect(updated.name).toBe('Acme');
    expect(updated.plan).toBe('pro');
    expect(updated.quotas).toEqual({ ...PLANS.pro, requests_per_minute: null });
    expect(updated.updated_at).toBe(created.updated_at + 60);
    expect(updated.created_at).toBe(created.created_at);
  });

  it('404s an unknown tenant and refuses an unknown plan before writing', async () => {
    const deps = tenantDeps();
    const created = await createTenant(deps, { name: 'Acme' });

    await expect(updateTenant(deps, newId('ten', 0), { name: 'x' })).rejects.toMatchObject({
      statusCode: 404,
    });
    await expect(updateTenant(deps, created.id, { plan: 'gold' })).rejects.toMatchObject({ param: 'plan' });
    expect((await getTenant(deps, created.id)).plan).toBe('free');
  });
});

describe('default_model', () => {
  it('is stored on create and rendered, null when absent', async () => {
    const deps = tenantDeps();

    const chosen = await createTenant(deps, { name: 'Acme', models: ['gpt-4o'], default_model: 'gpt-4o' });
    const plain = await createTenant(deps, { name: 'Beta' });

    expect(chosen.default_model).toBe('gpt-4o');
    expect(deps.store.tenants.get(chosen.id)?.default_model).toBe('gpt-4o');
    expect(plain.default_model).toBeNull();
  });

  it.each([
    [{ default_model: 'llama-99b' }, 'unknown_model', 'default_model'],
    [{ models: ['gpt-4o-mini'], default_model: 'gpt-4o' }, 'model_not_allowed', 'default_model'],
  ])('refuses %j on create with a 400, writing nothing', async (body, code, param) => {
    const deps = tenantDeps();

    await expect(createTenant(deps, { name: 'Acme', ...body })).rejects.toMatchObject({
      statusCode: 400,
      code,
      param,
    });
    expect(deps.store.tenants.size).toBe(0);
  });

  it.each([
    // The tenant below may use only gpt-4o-mini and gpt-4o, with gpt-4o as its default.
    [{ default_model: 'gpt-4.1' }, 'unknown_model', 'default_model'],
    [{ models: ['gpt-4o-mini'] }, 'model_not_allowed', 'models'],
    [{ models: ['gpt-4o-mini'], default_model: 'gpt-4o' }, 'model_not_allowed', 'default_model'],
  ])('refuses PATCH %j with a 400, leaving the tenant as it was', async (body, code, param) => {
    const deps = tenantDeps();
    const tenant = await createTenant(deps, {
      name: 'Acme',
      models: ['gpt-4o-mini', 'gpt-4o'],
      default_model: 'gpt-4o',
    });
    const before = structuredClone(deps.store.tenants.get(tenant.id));

    await expect(updateTenant(deps, tenant.id, body)).rejects.toMatchObject({ statusCode: 400, code, param });
    expect(deps.store.tenants.get(tenant.id)).toEqual(before);
  });

  it('changes models and the default together, or clears the default with null', async () => {
    const deps = tenantDeps();
    const tenant = await createTenant(deps, { name: 'Acme', default_model: 'gpt-4o' });

    const narrowed = await updateTenant(deps, tenant.id, {
      models: ['gpt-4o-mini'],
      default_model: 'gpt-4o-mini',
    });
    const cleared = await updateTenant(deps, tenant.id, { default_model: null });

    expect(narrowed).toMatchObject({ models: ['gpt-4o-mini'], default_model: 'gpt-4o-mini' });
    expect(cleared.default_model).toBeNull();
    expect(deps.store.tenants.get(tenant.id)?.default_model).toBeNull();
  });

  it('checks a new default against the models the tenant already has', async () => {
    const deps = tenantDeps();
    const tenant = await createTenant(deps, { name: 'Acme', models: ['gpt-4o-mini'] });

    await expect(updateTenant(deps, tenant.id, { default_model: 'gpt-4o' })).rejects.toMatchObject({
      code: 'model_not_allowed',
      param: 'default_model',
    });
    expect((await updateTenant(deps, tenant.id, { default_model: 'gpt-4o-mini' })).default_model).toBe(
      'gpt-4o-mini',
    );
  });

  it('404s an unknown tenant', async () => {
    const deps = tenantDeps();

    await expect(
      updateTenant(deps, 'ten_01jd0000000000000000000000', { default_model: 'gpt-4o' }),
    ).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('listModels', () => {
  it('lists the tenant models, each owned by the provider that serves it', () => {
    const tenant = {
      id: 'ten_01jd0000000000000000000000',
      name: 'Acme',
      plan: 'free',
      quota_overrides: {},
      models: null,
      tools: null,
      status: 'active' as const,
      created_at: 0,
      updated_at: 0,
    };
    const withOwners = { ...settings, modelOwners: { 'gpt-4o-mini': 'openai', 'gpt-4o': 'azure-eu' } };

    expect(listModels(tenant, withOwners).data.map(({ id, owned_by }) => ({ id, owned_by }))).toEqual([
      { id: 'gpt-4o-mini', owned_by: 'openai' },
      { id: 'gpt-4o', owned_by: 'azure-eu' },
    ]);
  });
});

describe('listTenants', () => {
  it('walks every tenant exactly once, oldest first', async () => {
    const deps = tenantDeps();
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      ids.push((await createTenant(deps, { name: `t${i}` })).id);
      deps.clock.advance(1000);
    }

    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await listTenants(deps, { limit: 3, ...(after && { after }) });
      seen.push(...page.data.map((tenant) => tenant.id));
      after = page.next_cursor;
      expect(page.has_more).toBe(after !== undefined);
    } while (after);

    expect(seen).toEqual(ids);
  });
});

describe('API keys', () => {
  it('creates a key shown once, stores only its hash, and lists it without secrets', async () => {
    const deps = tenantDeps();
    const tenant = await createTenant(deps, { name: 'Acme' });

    const created = await createApiKey(deps, tenant.id);
    const listed = await listApiKeys(deps, tenant.id, { limit: 20 });

    const stored = deps.store.keys.get(created.id);
    expect(stored?.key_hash).toBe(hashApiKey(created.key));
    expect(JSON.stringify(stored)).not.toContain(created.key);
    expect(listed.data).toEqual([
      {
        id: created.id,
        object: 'api_key',
        prefix: created.prefix,
        created_at: created.created_at,
        revoked_at: null,
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain(created.key);
  });

  it('404s keys of an unknown tenant', async () => {
    const deps = tenantDeps();
    const ghost = newId('ten', 0);

    await expect(createApiKey(deps, ghost)).rejects.toMatchObject({
      statusCode: 404,
      code: 'tenant_not_found',
    });
    await expect(listApiKeys(deps, ghost, { limit: 20 })).rejects.toMatchObject({ statusCode: 404 });
    expect(deps.store.keys.size).toBe(0);
  });

  it('revokes once: a second revoke keeps the first time; an unknown key is 404', async () => {
    const deps = tenantDeps();
    const tenant = await createTenant(deps, { name: 'Acme' });
    const key = await createApiKey(deps, tenant.id);

    const first = await revokeApiKey(deps, tenant.id, key.id);
    deps.clock.advance(5000);
    const second = await revokeApiKey(deps, tenant.id, key.id);

    expect(first.revoked_at).not.toBeNull();
    expect(second.revoked_at).toBe(first.revoked_at);
    await expect(revokeApiKey(deps, tenant.id, newId('key', 0))).rejects.toMatchObject({ statusCode: 404 });
  });

  it("404s another tenant's key", async () => {
    const deps = tenantDeps();
    const a = await createTenant(deps, { name: 'A' });
    const b = await createTenant(deps, { name: 'B' });
    const keyOfA = await createApiKey(deps, a.id);

    await expect(revokeApiKey(deps, b.id, keyOfA.id)).rejects.toMatchObject({ statusCode: 404 });
    expect(deps.store.keys.get(keyOfA.id)?.revoked_at).toBeNull();
  });
});
