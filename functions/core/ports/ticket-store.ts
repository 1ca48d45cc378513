// Port: single-use WebSocket connect tickets, stored by the hash of the ticket.
import type { TicketRecord } from '../connections/schemas';

/**
 * Tickets are written once and redeemed at most once: `redeem` is one atomic conditional delete, so of
 * any number of concurrent redemptions of the same ticket exactly one gets the record back.
 * Failures surface as ConnectionStoreUnavailableError (retryable) or ConnectionStoreFailureError.
 *
 * @example
 * const tickets: TicketStore = new DynamoTicketStore(documentClient, tableName);
 * await tickets.put({ ticket_hash, tenant_id, key_id, expires_at });
 * await tickets.redeem(ticket_hash, nowSeconds); // the record
 * await tickets.redeem(ticket_hash, nowSeconds); // undefined: already used
 */
export interface TicketStore {
  put(ticket: TicketRecord): Promise<void>;
  /** Deletes the ticket and returns it, if it exists and `expires_at > nowSeconds`; otherwise undefined. */
  redeem(ticketHash: string, nowSeconds: number): Promise<TicketRecord | undefined>;
}
