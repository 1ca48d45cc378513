// Use case: issue a single-use WebSocket connect ticket for a tenant's key (browsers cannot set headers).
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { TicketStore } from '../ports/ticket-store';
import { TICKET_TTL_SECONDS, type WsTicketResource } from './schemas';

/** SHA-256 hex of a ticket: what the store keys on, so the table never holds a usable ticket. */
export const hashTicket = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

/**
 * A random 256-bit ticket bound to the tenant and the key that asked for it, valid for 60 seconds and
 * once. The key's standing is checked again when the ticket is redeemed, so revoking the key or
 * suspending the tenant within those 60 seconds still refuses the connection.
 *
 * @example
 * const issued = await issueWsTicket({ tickets, clock }, { tenantId: tenant.id, keyId });
 * new WebSocket(`${wsUrl}?ticket=${issued.ticket}`);
 */
export const issueWsTicket = async (
  deps: { readonly tickets: TicketStore; readonly clock: Clock },
  input: { readonly tenantId: string; readonly keyId: string },
): Promise<WsTicketResource> => {
  const ticket = `wst_${randomBytes(32).toString('base64url')}`;
  const expiresAt = Math.floor(deps.clock.now().getTime() / 1000) + TICKET_TTL_SECONDS;
  await deps.tickets.put({
    ticket_hash: hashTicket(ticket),
    tenant_id: input.tenantId,
    key_id: input.keyId,
    expires_at: expiresAt,
  });
  return { object: 'ws_ticket', ticket, expires_at: expiresAt };
};
