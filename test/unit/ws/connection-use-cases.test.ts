// Unit: open-connection and close-connection against an in-memory ConnectionStore.
import { describe, expect, it } from 'vitest';
import { closeConnection } from '../../../functions/core/connections/close-connection';
import { openConnection } from '../../../functions/core/connections/open-connection';
import { InMemoryConnectionStore } from './fakes';

const TWO_HOURS = 7200;
const connectedAt = Date.parse('2026-11-21T21:14:56.123Z');

describe('openConnection', () => {
  it('records tenant, key and connect time with a ttl no later than 2 hours after connect', async () => {
    const connections = new InMemoryConnectionStore(() => connectedAt + 40);

    const record = await openConnection(
      { connections, now: () => connectedAt + 40 },
      { connectionId: 'Ub1YkcNGoAMCJlQ=', tenantId: 'ten_a', keyId: 'key_a', connectedAt },
    );

    expect(await connections.get('Ub1YkcNGoAMCJlQ=')).toEqual(record);
    expect(record).toMatchObject({ connection_id: 'Ub1YkcNGoAMCJlQ=', tenant_id: 'ten_a', key_id: 'key_a' });
    expect(Date.parse(record.connected_at)).toBe(connectedAt);
    expect(record.ttl).toBeGreaterThan(connectedAt / 1000);
    expect(record.ttl).toBeLessThanOrEqual(connectedAt / 1000 + TWO_HOURS);
  });

  it('falls back to the clock when the event carries no connect time', async () => {
    const now = Date.parse('2026-11-21T22:00:00.000Z');
    const connections = new InMemoryConnectionStore(() => now);

    const record = await openConnection(
      { connections, now: () => now },
      { connectionId: 'c1', tenantId: 'ten_a', keyId: 'key_a' },
    );

    expect(record.connected_at).toBe('2026-11-21T22:00:00.000Z');
    expect(record.ttl).toBeLessThanOrEqual(now / 1000 + TWO_HOURS);
  });

  it('lets a record lapse once API Gateway would have cut the connection', async () => {
    let now = connectedAt;
    const connections = new InMemoryConnectionStore(() => now);
    await openConnection(
      { connections },
      { connectionId: 'c1', tenantId: 'ten_a', keyId: 'key_a', connectedAt },
    );

    now = connectedAt + TWO_HOURS * 1000 + 1000;

    expect(await connections.get('c1')).toBeUndefined();
    expect(await connections.countByTenant('ten_a')).toBe(0);
  });
});

describe('closeConnection', () => {
  it('removes the record and reports what it removed', async () => {
    const connections = new InMemoryConnectionStore(() => connectedAt);
    await openConnection(
      { connections },
      { connectionId: 'c1', tenantId: 'ten_a', keyId: 'key_a', connectedAt },
    );

    const closed = await closeConnection({ connections }, 'c1');

    expect(closed?.tenant_id).toBe('ten_a');
    expect(await connections.get('c1')).toBeUndefined();
  });

  it('is idempotent: closing twice, or an unknown id, is not an error', async () => {
    const connections = new InMemoryConnectionStore(() => connectedAt);
    await openConnection(
      { connections },
      { connectionId: 'c1', tenantId: 'ten_a', keyId: 'key_a', connectedAt },
    );
    await closeConnection({ connections }, 'c1');

    await expect(closeConnection({ connections }, 'c1')).resolves.toBeUndefined();
    await expect(closeConnection({ connections }, 'never-connected')).resolves.toBeUndefined();
  });
});
