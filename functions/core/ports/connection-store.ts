// Port: where live WebSocket connections are recorded, by connection id and by tenant.
import type { ConnectionRecord } from '../connections/schemas';

/**
 * The live WebSocket connections. Records expire on their own (`ttl`, epoch seconds); a record past its
 * ttl is treated as absent by every read even before the store deletes it.
 * Failures surface as ConnectionStoreUnavailableError (retryable) or ConnectionStoreFailureError.
 *
 * @example
 * const connections: ConnectionStore = new DynamoConnectionStore(documentClient, tableName);
 * await connections.put(record);
 * const live = await connections.countByTenant(record.tenant_id); // 1
 * await connections.delete(record.connection_id); // idempotent
 */
export interface ConnectionStore {
  /** Records a connection; writing the same connection id again replaces it. */
  put(record: ConnectionRecord): Promise<void>;
  /** The live record, or undefined when it is absent or expired. */
  get(connectionId: string): Promise<ConnectionRecord | undefined>;
  /** Removes a connection; returns what was removed, undefined when there was nothing (not an error). */
  delete(connectionId: string): Promise<ConnectionRecord | undefined>;
  /** A tenant's live connections, oldest first. */
  listByTenant(tenantId: string): Promise<ConnectionRecord[]>;
  /** How many live connections a tenant holds (for the `concurrent_connections` quota). */
  countByTenant(tenantId: string): Promise<number>;
}
