// Use case: forget a WebSocket connection that closed.
import type { ConnectionStore } from '../ports/connection-store';
import type { ConnectionRecord } from './schemas';

export interface CloseConnectionDeps {
  connections: ConnectionStore;
}

/**
 * Removes the connection's record. Idempotent: `$disconnect` may be delivered more than once, or for a
 * connection whose record already expired, and neither is an error.
 *
 * @example
 * const closed = await closeConnection({ connections }, 'L0SM9cOFvHcCIhw=');
 * closed?.tenant_id; // the tenant it belonged to, or undefined when nothing was recorded
 */
export const closeConnection = async (
  { connections }: CloseConnectionDeps,
  connectionId: string,
): Promise<ConnectionRecord | undefined> => connections.delete(connectionId);
