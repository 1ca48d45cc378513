// Unit: the `concurrent_connections` quota on $connect/$disconnect, with in-memory fakes through the ports.
import '../../helpers/test-env';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  admitConnection,
  type ConnectionSlotDeps,
} from '../../../functions/core/connections/admit-connection';
import type { ConnectionRecord } from '../../../functions/core/connections/schemas';
import {
  acquireConnectionSlot,
  connectionHoldId,
  releaseConnectionSlot,
} from '../../../functions/core/quotas/acquire-connection-slot';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';
import type { WsEvent } from '../../../functions/middleware/ws/types';
import { PLANS } from '../../helpers/plans';
import { InMemoryQuotaLedger } from '../../helpers/quota-fakes';
import { InMemoryTenantStore, manualClock } from '../../helpers/tenant-fakes';
import {
  capturingLogger,
  InMemoryConnectionStore,
  lambdaContext,
  loadEvent,
  seedConnectionTenant,
} from './fakes';

let connectModule: typeof import('../../../functions/handlers/ws-connect');
let disconnectModule: typeof import('../../../functions/handlers/ws-disconnect');
beforeAll(async () => {
  connectModule = await import('../../../functions/handlers/ws-connect');
  disconnectModule = await import('../../../functions/handlers/ws-disconnect');
});

const setup = async (limit: number | null) => {
  const event = loadEvent<WsEvent>('ws-connect/authorized.json');
  const tenants = new InMemoryTenantStore();
  const { tenantId, keyId } = await seedConnectionTenant(tenants, event);
  await tenants.updateTenant(tenantId, { quota_overrides: { concurrent_connections: limit }, updated_at: 1 });
  const clock = manualClock(event.requestContext.connectedAt);
  const ledger = new InMemoryQuotaLedger();
  const connections = new InMemoryConnectionStore(() => clock.now().getTime());
  const slots: ConnectionSlotDeps = { ledger, tenants, clock, plans: PLANS, defaultPlan: 'free' };
  const admit = (connectionId: string) =>
    admitConnection(
      { connections, slots, now: () => clock.now().getTime() },
      { connectionId, tenantId, keyId },
    );
  return { event, tenants, tenantId, keyId, clock, ledger, connections, slots, admit };
};

describe('admitConnection: concurrent_connections', () => {
  it('admits up to the limit, then refuses with a 429 and records nothing more', async () => {
    const { admit, connections, tenantId } = await setup(2);
    await admit('c1=');
    await admit('c2+/');

    const refused = admit('c3');

    await expect(refused).rejects.toBeInstanceOf(QuotaExceededError);
    await expect(refused).rejects.toMatchObject({ statusCode: 429, code: 'concurrent_connections_exceeded' });
    expect(await connections.countByTenant(tenantId)).toBe(2);
  });

  it('a released slot admits the next connection; a repeated release frees nothing more', async () => {
    const { admit, ledger, tenantId } = await setup(1);
    await admit('c1');
    await expect(admit('c2')).rejects.toBeInstanceOf(QuotaExceededError);

    expect(await releaseConnectionSlot({ ledger }, { tenantId, connectionId: 'c1' })).toEqual({
      status: 'released',
    });
    expect(await releaseConnectionSlot({ ledger }, { tenantId, connectionId: 'c1' })).toEqual({
      status: 'not_held',
    });
    await admit('c2');
    await expect(admit('c3')).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('a retried $connect of the same connection gets its own slot back, not a second one', async () => {
    const { admit } = await setup(1);
    await admit('c1');
    await expect(admit('c1')).resolves.toBeDefined();
  });

  it('reclaims the slot of a connection whose $disconnect was lost, once its lease (> 2 h) ran out', async () => {
    const { admit, clock } = await setup(1);
    await admit('lost');
    clock.advance(2 * 60 * 60 * 1000);
    await expect(admit('during-the-2-hours')).rejects.toBeInstanceOf(QuotaExceededError);

    clock.advance(6 * 60 * 1000);

    await expect(admit('after-the-lease')).resolves.toBeDefined();
  });

  it('an unlimited tenant takes no slot; a zero limit refuses every connection', async () => {
    const unlimited = await setup(null);
    await unlimited.admit('c1');
    expect(unlimited.ledger.calls).toEqual([]);

    const zero = await setup(0);
    await expect(zero.admit('c1')).rejects.toBeInstanceOf(QuotaExceededError);
  });

  it('gives the slot back when recording the connection fails', async () => {
    const context = await setup(1);
    const broken = Object.assign(new InMemoryConnectionStore(), {
      put: async (_record: ConnectionRecord) => {
        throw new Error('table unavailable');
      },
    });
    const admitBroken = admitConnection(
      { connections: broken, slots: context.slots },
      { connectionId: 'c1', tenantId: context.tenantId, keyId: context.keyId },
    );
    await expect(admitBroken).rejects.toThrow('table unavailable');

    await expect(context.admit('c2')).resolves.toBeDefined();
  });

  it('maps base64 connection ids one-to-one onto hold ids of the ledger alphabet', async () => {
    // Standard base64 only (what API Gateway issues): `-`, `_` and `.` never occur in it.
    const ids = ['ab+c', 'ab/c', 'ab=c', 'abcc', 'abc=', 'L0SM9cOFvHcCIhw='];
    const holds = ids.map(connectionHoldId);
    expect(new Set(holds).size).toBe(ids.length);
    for (const hold of holds) expect(hold).toMatch(/^[A-Za-z0-9_.:-]{1,128}$/);
    const { ledger, clock } = await setup(null);
    await expect(
      acquireConnectionSlot({ ledger, clock }, { tenantId: 't', connectionId: 'bad id!', limit: 1 }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('ws-connect and ws-disconnect handlers', () => {
  it('$connect answers 429 when the quota is full, and $disconnect frees the slot for the next one', async () => {
    const { event, connections, ledger, slots, clock } = await setup(1);
    const { logger } = capturingLogger();
    const connect = connectModule.createConnectHandler({
      connections,
      logger,
      slots,
      now: () => clock.now().getTime(),
    });
    const disconnect = disconnectModule.createDisconnectHandler({ connections, logger, ledger });
    const second = structuredClone(event);
    second.requestContext.connectionId = 'second-connection=';

    expect(await connect(event, lambdaContext())).toEqual({ statusCode: 200 });
    expect(await connect(second, lambdaContext())).toEqual({ statusCode: 429 });

    const closing = loadEvent<WsEvent>('ws-disconnect/client-closed.json');
    closing.requestContext.connectionId = event.requestContext.connectionId;
    closing.requestContext.authorizer = event.requestContext.authorizer;
    expect(await disconnect(closing, lambdaContext())).toEqual({ statusCode: 200 });

    expect(await connect(second, lambdaContext())).toEqual({ statusCode: 200 });
  });
});
