// Test helper: an in-memory TenantStore with the adapter's semantics, and the settings and env tests share.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { decodeCursor, encodeCursor, type Page, type PageRequest } from '../../functions/core/pagination';
import type { Clock } from '../../functions/core/ports/clock';
import { randomIds } from '../../functions/core/ports/id-generator';
import type { ApiKeyHashEntry, TenantStore } from '../../functions/core/ports/tenant-store';
import {
  ApiKeyNotFoundError,
  TenantConflictError,
  TenantNotFoundError,
} from '../../functions/core/tenants/errors';
import type { TenantDeps, TenantSettings } from '../../functions/core/tenants/model';
import {
  API_KEY_ID_PATTERN,
  type ApiKeyRecord,
  TENANT_ID_PATTERN,
  type TenantChanges,
  type TenantRecord,
} from '../../functions/core/tenants/schemas';

import { createLogger } from '../../functions/observability/logger';
import { PLANS } from './plans';

export { ADMIN_KEY } from './test-env';
export { PLANS };

export const settings: TenantSettings = {
  stage: 'dev',
  plans: PLANS,
  defaultPlan: 'free',
  allowedModels: ['gpt-4o-mini', 'gpt-4o'],
};

/** A clock tests move by hand. */
export const manualClock = (start = Date.UTC(2026, 10, 21, 9, 0, 0)) => {
  let now = start;
  const clock: Clock & { advance(ms: number): void } = {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
  return clock;
};

export class InMemoryTenantStore implements TenantStore {
  readonly tenants = new Map<string, TenantRecord>();
  readonly keys = new Map<string, ApiKeyRecord>();
  readonly hashes = new Map<string, ApiKeyHashEntry>();
  readonly calls: string[] = [];

  async createTenant(tenant: TenantRecord) {
    this.calls.push('createTenant');
    if (this.tenants.has(tenant.id)) throw new TenantConflictError('exists');
    this.tenants.set(tenant.id, structuredClone(tenant));
  }
  async getTenant(id: string) {
    this.calls.push('getTenant');
    const tenant = this.tenants.get(id);
    return tenant && structuredClone(tenant);
  }
  async listTenants(page: PageRequest) {
    this.calls.push('listTenants');
    return this.page([...this.tenants.values()], page, TENANT_ID_PATTERN);
  }
  async updateTenant(id: string, changes: TenantChanges) {
    this.calls.push('updateTenant');
    const tenant = this.tenants.get(id);
    if (!tenant) throw new TenantNotFoundError(id);
    const next = { ...tenant, ...changes };
    this.tenants.set(id, next);
    return structuredClone(next);
  }
  async createApiKey(key: ApiKeyRecord) {
    this.calls.push('createApiKey');
    if (!this.tenants.has(key.tenant_id)) throw new TenantNotFoundError(key.tenant_id);
    if (this.keys.has(key.id) || this.hashes.has(key.key_hash)) throw new TenantConflictError('exists');
    this.keys.set(key.id, structuredClone(key));
    this.hashes.set(key.key_hash, { tenantId: key.tenant_id, keyId: key.id, keyHash: key.key_hash });
  }
  async listApiKeys(tenantId: string, page: PageRequest) {
    this.calls.push('listApiKeys');
    return this.page(
      [...this.keys.values()].filter((key) => key.tenant_id === tenantId),
      page,
      API_KEY_ID_PATTERN,
    );
  }
  async revokeApiKey(tenantId: string, keyId: string, revokedAt: number) {
    this.calls.push('revokeApiKey');
    const key = this.keys.get(keyId);
    if (!key || key.tenant_id !== tenantId) throw new ApiKeyNotFoundError(keyId);
    key.revoked_at ??= revokedAt;
    return structuredClone(key);
  }
  async findApiKeyByHash(hash: string) {
    this.calls.push('findApiKeyByHash');
    return this.hashes.get(hash);
  }
  async getApiKeyWithTenant(tenantId: string, keyId: string) {
    this.calls.push('getApiKeyWithTenant');
    const key = this.keys.get(keyId);
    const tenant = this.tenants.get(tenantId);
    return {
      key: key && key.tenant_id === tenantId ? structuredClone(key) : undefined,
      tenant: tenant && structuredClone(tenant),
    };
  }

  private page<T extends { id: string }>(all: T[], request: PageRequest, pattern: RegExp): Page<T> {
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, pattern);
    const sorted = all.sort((a, b) => (a.id < b.id ? -1 : 1)).filter((item) => !after || item.id > after);
    const items = sorted.slice(0, request.limit).map((item) => structuredClone(item));
    const last = items.at(-1);
    return sorted.length > request.limit && last ? { items, nextCursor: encodeCursor(last.id) } : { items };
  }
}

export const tenantDeps = (
  store = new InMemoryTenantStore(),
  clock = manualClock(),
): TenantDeps & {
  store: InMemoryTenantStore;
  clock: ReturnType<typeof manualClock>;
} => ({ store, clock, ids: randomIds(clock), settings });

/** A sample event from events/<function>/<case>.json, as a fresh copy. */
// biome-ignore lint/suspicious/noExplicitAny: sample events come in many shapes; tests index into them freely
export const loadEvent = <T = any>(functionId: string, name: string): T =>
  JSON.parse(readFileSync(new URL(`../../events/${functionId}/${name}.json`, import.meta.url), 'utf8')) as T;

export const lambdaContext = (): Context =>
  ({
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    functionName: 'test',
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

/** The tenant and key the sample events in events/ refer to, put in a store so the samples authenticate. */
export const seedSampleTenant = async (
  store: InMemoryTenantStore,
  status: 'active' | 'suspended' = 'active',
) => {
  const event = loadEvent('account-api', 'list-models');
  const { tenantId, keyId } = event.requestContext.authorizer.lambda as { tenantId: string; keyId: string };
  const key = (event.headers.authorization as string).slice('Bearer '.length);
  const created_at = Math.floor(Date.UTC(2026, 10, 21, 9, 30) / 1000);
  await store.createTenant({
    id: tenantId,
    name: 'Acme Robotics',
    plan: 'free',
    quota_overrides: {},
    models: null,
    tools: null,
    status,
    created_at,
    updated_at: created_at,
  });
  await store.createApiKey({
    id: keyId,
    tenant_id: tenantId,
    prefix: key.slice(0, 13),
    key_hash: createHash('sha256').update(key).digest('hex'),
    created_at,
    revoked_at: null,
  });
  return { tenantId, keyId, key };
};

/** A logger that keeps its lines for assertions. */
export const memoryLogger = () => {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    logger: createLogger({}, { level: 'debug', sink: (line) => lines.push(JSON.parse(line)) }),
  };
};
