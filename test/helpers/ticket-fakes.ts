// Test helper: an in-memory TicketStore with the adapter's semantics (a redeem consumes the ticket).
import type { TicketRecord } from '../../functions/core/connections/schemas';
import type { TicketStore } from '../../functions/core/ports/ticket-store';

export class InMemoryTicketStore implements TicketStore {
  readonly tickets = new Map<string, TicketRecord>();
  redeemCalls = 0;

  async put(ticket: TicketRecord) {
    if (this.tickets.has(ticket.ticket_hash)) throw new Error('ticket exists');
    this.tickets.set(ticket.ticket_hash, { ...ticket });
  }

  async redeem(ticketHash: string, nowSeconds: number) {
    this.redeemCalls += 1;
    const ticket = this.tickets.get(ticketHash);
    if (!ticket || ticket.expires_at <= nowSeconds) return undefined;
    this.tickets.delete(ticketHash);
    return ticket;
  }
}
