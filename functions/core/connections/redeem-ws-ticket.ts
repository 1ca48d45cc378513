// Use case: redeem a WebSocket connect ticket once, at `$connect`.
import type { Clock } from '../ports/clock';
import type { TicketStore } from '../ports/ticket-store';
import { hashTicket } from './issue-ws-ticket';
import { TICKET_PATTERN } from './schemas';

/**
 * The tenant and key a ticket was issued to, or undefined when it is malformed, unknown, expired or
 * already used; all four are the same answer (401) to the caller. A malformed ticket costs no read.
 * The ticket is consumed by this call even if the caller then refuses the connection.
 *
 * @example
 * const owner = await redeemWsTicket({ tickets, clock }, event.queryStringParameters.ticket);
 * if (!owner) throw new Error('Unauthorized');
 */
export const redeemWsTicket = async (
  deps: { readonly tickets: TicketStore; readonly clock: Clock },
  ticket: string,
): Promise<{ tenantId: string; keyId: string } | undefined> => {
  if (!TICKET_PATTERN.test(ticket)) return undefined;
  const nowSeconds = Math.floor(deps.clock.now().getTime() / 1000);
  const record = await deps.tickets.redeem(hashTicket(ticket), nowSeconds);
  return record && { tenantId: record.tenant_id, keyId: record.key_id };
};
