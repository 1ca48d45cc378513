// Test fakes: in-memory ConnectionStore and ConnectionNotifier with the ports' documented semantics.
import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { ConnectionGoneError } from '../../../functions/core/connections/errors';
import type { ConnectionRecord, ServerFrame } from '../../../functions/core/connections/schemas';
import type { ConnectionNotifier } from '../../../functions/core/ports/connection-notifier';
import type { ConnectionStore } from '../../../functions/core/ports/connection-store';
import type { WsEvent } from '../../../functions/middleware/ws/types';
import { createLogger, type Logger } from '../../../functions/observability/logger';
import type { InMemoryTenantStore } from '../../helpers/tenant-fakes';

export class InMemoryConnectionStore implements ConnectionStore {
  readonly records = new Map<string, ConnectionRecord>();
  constructor(private readonly now: () => number = Date.now) {}

  private live(record: ConnectionRecord | undefined): record is ConnectionRecord {
    return record !== undefined && record.ttl > Math.floor(this.now() / 1000);
  }
  async put(record: ConnectionRecord) {
    this.records.set(record.connection_id, { ...record });
  }
  async get(connectionId: string) {
    const record = this.records.get(connectionId);
    return this.live(record) ? record : undefined;
  }
  async delete(connectionId: string) {
    const record = this.records.get(connectionId);
    this.records.delete(connectionId);
    return record;
  }
  async listByTenant(tenantId: string) {
    return [...this.records.values()]
      .filter((record) => record.tenant_id === tenantId && this.live(record))
      .sort((a, b) => a.connected_at.localeCompare(b.connected_at));
  }
  async countByTenant(tenantId: string) {
    return (await this.listByTenant(tenantId)).length;
  }
}

export class RecordingNotifier implements ConnectionNotifier {
  readonly posts: { connectionId: string; frame: ServerFrame }[] = [];
  /** Connections this notifier closed (not those that were already gone). */
  readonly disconnected: string[] = [];
  readonly gone = new Set<string>();
  async post(connectionId: string, frame: ServerFrame) {
    if (this.gone.has(connectionId)) throw new ConnectionGoneError(connectionId);
    this.posts.push({ connectionId, frame });
  }
  async disconnect(connectionId: string) {
    if (this.gone.has(connectionId)) return;
    this.gone.add(connectionId);
    this.disconnected.push(connectionId);
  }
}

/** A logger whose JSON lines are kept for assertions. */
export const capturingLogger = (): { logger: Logger; lines: Record<string, unknown>[] } => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({}, { level: 'debug', sink: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
};

/** One of the sample events under events/, as `npm run invoke` would read it. */
export const loadEvent = <T>(path: string): T =>
  JSON.parse(readFileSync(new URL(`../../../events/${path}`, import.meta.url), 'utf8')) as T;

export const lambdaContext = (): Context & { log: Logger } =>
  ({
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    functionName: 'test',
    getRemainingTimeInMillis: () => 5_000,
  }) as unknown as Context & { log: Logger };

/** Puts the tenant and key a sample WebSocket event's authorizer context names into a tenant store. */
export const seedConnectionTenant = async (
  store: InMemoryTenantStore,
  event: WsEvent,
  status: 'active' | 'suspended' = 'active',
) => {
  const tenantId = String(event.requestContext.authorizer?.tenantId);
  const keyId = String(event.requestContext.authorizer?.keyId);
  const created_at = Math.floor(event.requestContext.connectedAt / 1000) - 60;
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
    prefix: 'tk_dev_W2jwzL',
    key_hash: 'a'.repeat(64),
    created_at,
    revoked_at: null,
  });
  return { tenantId, keyId };
};
