// Unit: WebSocket tickets: issued bound to a key, stored hashed, redeemed once within 60 s, through the
// ws authorizer and the `POST /v1/ws-tickets` route.
import '../../helpers/test-env';
import { describe, expect, it } from 'vitest';
import { hashTicket, issueWsTicket } from '../../../functions/core/connections/issue-ws-ticket';
import { redeemWsTicket } from '../../../functions/core/connections/redeem-ws-ticket';
import { TICKET_PATTERN } from '../../../functions/core/connections/schemas';
import { createAccountApi } from '../../../functions/handlers/account-api';
import { createWsAuthorizer } from '../../../functions/handlers/authorizer-ws';
import { InMemoryQuotaLedger } from '../../helpers/quota-fakes';
import {
  InMemoryTenantStore,
  lambdaContext,
  loadEvent,
  manualClock,
  memoryLogger,
  seedSampleTenant,
  settings,
} from '../../helpers/tenant-fakes';
import { InMemoryTicketStore } from '../../helpers/ticket-fakes';

const setup = async () => {
  const store = new InMemoryTenantStore();
  const sample = await seedSampleTenant(store);
  const tickets = new InMemoryTicketStore();
  const clock = manualClock();
  const { logger } = memoryLogger();
  const authorize = createWsAuthorizer({
    store,
    stage: 'dev',
    logger,
    redeemTicket: (ticket) => redeemWsTicket({ tickets, clock }, ticket),
  });
  const connectWith = (ticket: string) => {
    const event = loadEvent('authorizer-ws', 'ticket');
    event.queryStringParameters.ticket = ticket;
    event.multiValueQueryStringParameters.ticket = [ticket];
    return authorize(event);
  };
  return { store, sample, tickets, clock, connectWith };
};

describe('issueWsTicket', () => {
  it('returns an unguessable ticket valid 60 s, and stores only its hash, bound to tenant and key', async () => {
    const { tickets, clock, sample } = await setup();

    const issued = await issueWsTicket(
      { tickets, clock },
      { tenantId: sample.tenantId, keyId: sample.keyId },
    );

    expect(issued.ticket).toMatch(TICKET_PATTERN);
    expect(issued.expires_at).toBe(Math.floor(clock.now().getTime() / 1000) + 60);
    const stored = [...tickets.tickets.values()];
    expect(stored).toEqual([
      {
        ticket_hash: hashTicket(issued.ticket),
        tenant_id: sample.tenantId,
        key_id: sample.keyId,
        expires_at: issued.expires_at,
      },
    ]);
    expect(JSON.stringify(stored)).not.toContain(issued.ticket.slice(4));
  });

  it('never issues the same ticket twice', async () => {
    const { tickets, clock } = await setup();
    const issued = await Promise.all(
      Array.from({ length: 50 }, () => issueWsTicket({ tickets, clock }, { tenantId: 't', keyId: 'k' })),
    );
    expect(new Set(issued.map((item) => item.ticket)).size).toBe(50);
  });
});

describe('a ticket at $connect (ws authorizer)', () => {
  it('is allowed once, as its tenant and key; a second use is Unauthorized', async () => {
    const { tickets, clock, sample, connectWith } = await setup();
    const { ticket } = await issueWsTicket(
      { tickets, clock },
      { tenantId: sample.tenantId, keyId: sample.keyId },
    );

    const first = await connectWith(ticket);

    expect(first.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    expect(first.context).toEqual({ principal: 'tenant', tenantId: sample.tenantId, keyId: sample.keyId });
    await expect(connectWith(ticket)).rejects.toThrow(/^Unauthorized$/);
  });

  it('is Unauthorized once 60 seconds have passed', async () => {
    const { tickets, clock, sample, connectWith } = await setup();
    const { ticket } = await issueWsTicket(
      { tickets, clock },
      { tenantId: sample.tenantId, keyId: sample.keyId },
    );
    clock.advance(60_000);

    await expect(connectWith(ticket)).rejects.toThrow(/^Unauthorized$/);
  });

  it('is Unauthorized when unknown, and a malformed one costs no read', async () => {
    const { tickets, connectWith } = await setup();

    await expect(connectWith(`wst_${'A'.repeat(43)}`)).rejects.toThrow(/^Unauthorized$/);
    expect(tickets.redeemCalls).toBe(1);
    await expect(connectWith('wst_short')).rejects.toThrow(/^Unauthorized$/);
    await expect(connectWith(`tk_dev_${'A'.repeat(43)}`)).rejects.toThrow(/^Unauthorized$/);
    expect(tickets.redeemCalls).toBe(1);
  });

  it('is refused when its key was revoked (401) or its tenant suspended (Deny) after it was issued', async () => {
    const revoked = await setup();
    const a = await issueWsTicket(revoked, {
      tenantId: revoked.sample.tenantId,
      keyId: revoked.sample.keyId,
    });
    await revoked.store.revokeApiKey(revoked.sample.tenantId, revoked.sample.keyId, 1);
    await expect(revoked.connectWith(a.ticket)).rejects.toThrow(/^Unauthorized$/);

    const suspended = await setup();
    const b = await issueWsTicket(suspended, {
      tenantId: suspended.sample.tenantId,
      keyId: suspended.sample.keyId,
    });
    await suspended.store.updateTenant(suspended.sample.tenantId, { status: 'suspended', updated_at: 2 });
    const result = await suspended.connectWith(b.ticket);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
  });
});

describe('POST /v1/ws-tickets (account-api)', () => {
  const api = async () => {
    const context = await setup();
    const { logger } = memoryLogger();
    const handler = createAccountApi(
      {
        store: context.store,
        usage: { readCounters: async () => ({}) as never },
        ledger: new InMemoryQuotaLedger(),
        clock: context.clock,
        settings,
        tickets: context.tickets,
      },
      { logger },
    );
    return { ...context, handler };
  };

  it('answers 201 with a ticket the authorizer then accepts for the calling key', async () => {
    const { handler, connectWith, sample } = await api();

    const response = await handler(loadEvent('account-api', 'create-ws-ticket'), lambdaContext());

    expect(response.statusCode).toBe(201);
    const body = JSON.parse(response.body ?? '{}');
    expect(body).toMatchObject({ object: 'ws_ticket', ticket: expect.stringMatching(TICKET_PATTERN) });
    const allowed = await connectWith(body.ticket);
    expect(allowed.context).toMatchObject({ tenantId: sample.tenantId, keyId: sample.keyId });
  });

  it('refuses a body with fields (400) and stores nothing', async () => {
    const { handler, tickets } = await api();
    const event = loadEvent('account-api', 'create-ws-ticket');
    event.headers['content-type'] = 'application/json';
    event.body = JSON.stringify({ tenant_id: 'someone-else' });

    const response = await handler(event, lambdaContext());

    expect(response.statusCode).toBe(400);
    expect(tickets.tickets.size).toBe(0);
  });
});
