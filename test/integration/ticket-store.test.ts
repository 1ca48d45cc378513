// Integration: the DynamoDB TicketStore on DynamoDB Local: hashed, TTL'd, and redeemed exactly once
// even when many redemptions of one ticket race.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionStore } from '../../functions/adapters/dynamodb/connection-store';
import { DynamoTicketStore } from '../../functions/adapters/dynamodb/ticket-store';
import { hashTicket, issueWsTicket } from '../../functions/core/connections/issue-ws-ticket';
import { redeemWsTicket } from '../../functions/core/connections/redeem-ws-ticket';
import { TABLES } from '../../functions/platform/tables';
import { type DynamoLocalWs, startDynamoLocalWs } from '../helpers/dynamodb-local-ws';
import { manualClock } from '../helpers/tenant-fakes';

let dynamo: DynamoLocalWs;
let tableName: string;
let tickets: DynamoTicketStore;

beforeAll(async () => {
  dynamo = await startDynamoLocalWs();
  tableName = await dynamo.createConnectionsTable();
  tickets = new DynamoTicketStore(dynamo.documentClient, tableName);
});

afterAll(async () => {
  await dynamo?.stop();
});

describe('DynamoTicketStore on DynamoDB Local', () => {
  it('stores the hash with a TTL, never the ticket, and outside any tenant connection query', async () => {
    const clock = manualClock();
    const issued = await issueWsTicket({ tickets, clock }, { tenantId: 'ten_t1', keyId: 'key_k1' });

    const raw = await dynamo.documentClient.send(
      new GetCommand({
        TableName: tableName,
        Key: { pk: `TICKET#${hashTicket(issued.ticket)}`, sk: 'TICKET' },
      }),
    );
    expect(raw.Item).toMatchObject({ tenant_id: 'ten_t1', key_id: 'key_k1', expires_at: issued.expires_at });
    expect(raw.Item?.[TABLES.connections.ttlAttribute]).toBeGreaterThanOrEqual(issued.expires_at);
    expect(JSON.stringify(raw.Item)).not.toContain(issued.ticket);
    const connections = new DynamoConnectionStore(dynamo.documentClient, tableName);
    expect(await connections.countByTenant('ten_t1')).toBe(0);
  });

  it('of 12 concurrent redemptions of one ticket, exactly one wins', async () => {
    const clock = manualClock();
    const issued = await issueWsTicket({ tickets, clock }, { tenantId: 'ten_race', keyId: 'key_race' });

    const results = await Promise.all(
      Array.from({ length: 12 }, () => redeemWsTicket({ tickets, clock }, issued.ticket)),
    );

    const winners = results.filter((result) => result !== undefined);
    expect(winners).toEqual([{ tenantId: 'ten_race', keyId: 'key_race' }]);
    expect(await redeemWsTicket({ tickets, clock }, issued.ticket)).toBeUndefined();
  });

  it('refuses an expired ticket even before DynamoDB deletes it', async () => {
    const clock = manualClock();
    const issued = await issueWsTicket({ tickets, clock }, { tenantId: 'ten_old', keyId: 'key_old' });
    clock.advance(61_000);

    expect(await redeemWsTicket({ tickets, clock }, issued.ticket)).toBeUndefined();
  });

  it('answers undefined for a ticket never issued', async () => {
    const clock = manualClock();
    expect(await redeemWsTicket({ tickets, clock }, `wst_${'x'.repeat(43)}`)).toBeUndefined();
  });
});
