// Use case: record a WebSocket connection the authorizer let in, so later frames can reach it.
import type { ConnectionStore } from '../ports/connection-store';
import { type ConnectionRecord, ConnectionRecordSchema, MAX_CONNECTION_SECONDS } from './schemas';

export interface OpenConnectionDeps {
  connections: ConnectionStore;
  /** Epoch milliseconds; injected so tests need no fake timers. */
  now?: () => number;
}

export interface OpenConnectionInput {
  connectionId: string;
  tenantId: string;
  keyId: string;
  /** When API Gateway accepted the socket (epoch ms, `requestContext.connectedAt`); defaults to now. */
  connectedAt?: number;
}

/**
 * Records a connection with a TTL of at most 2 hours after connect, API Gateway's own cap on a
 * connection's life, so a record whose `$disconnect` never ran still disappears.
 *
 * @example
 * const record = await openConnection({ connections }, { connectionId: 'L0SM9cOFvHcCIhw=', tenantId, keyId });
 * record.ttl; // connect time (epoch seconds) + 7200
 */
export const openConnection = async (
  { connections, now = Date.now }: OpenConnectionDeps,
  input: OpenConnectionInput,
): Promise<ConnectionRecord> => {
  const connectedAtMs = input.connectedAt ?? now();
  const record = ConnectionRecordSchema.parse({
    connection_id: input.connectionId,
    tenant_id: input.tenantId,
    key_id: input.keyId,
    connected_at: new Date(connectedAtMs).toISOString(),
    ttl: Math.floor(connectedAtMs / 1000) + MAX_CONNECTION_SECONDS,
  });
  await connections.put(record);
  return record;
};
