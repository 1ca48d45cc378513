// Use case: admit a WebSocket connection at `$connect`: take a `concurrent_connections` slot, then record it.
import { AuthenticationError } from '../errors';
import type { Clock } from '../ports/clock';
import type { ConnectionStore } from '../ports/connection-store';
import type { QuotaLedger } from '../ports/quota-ledger';
import type { TenantStore } from '../ports/tenant-store';
import {
  acquireConnectionSlot,
  type ConnectionSlot,
  releaseConnectionSlot,
} from '../quotas/acquire-connection-slot';
import { type Plans, tenantQuotas } from '../quotas/schemas';
import { openConnection } from './open-connection';
import type { ConnectionRecord } from './schemas';

export interface ConnectionSlotDeps {
  readonly ledger: QuotaLedger;
  readonly tenants: TenantStore;
  readonly clock: Clock;
  readonly plans: Plans;
  readonly defaultPlan: string;
}

export interface AdmitConnectionDeps {
  readonly connections: ConnectionStore;
  /** Without it, connections are recorded but not counted (tests of the bare lifecycle). */
  readonly slots?: ConnectionSlotDeps;
  readonly now?: () => number;
}

export interface AdmitConnectionInput {
  readonly connectionId: string;
  readonly tenantId: string;
  readonly keyId: string;
  readonly connectedAt?: number;
}

/**
 * Takes a slot of the tenant's `concurrent_connections` (its plan's limit under its overrides), keyed by
 * the connection id, then records the connection with its 2-hour TTL. Throws `QuotaExceededError` (429:
 * `$connect` refuses the handshake) when all slots are taken, and `AuthenticationError` (401) when the
 * tenant vanished since the authorizer ran. If recording fails, the slot is given back before rethrowing,
 * since API Gateway sends no `$disconnect` for a refused connect.
 *
 * @example
 * const { record, slot } = await admitConnection({ connections, slots }, { connectionId, tenantId, keyId });
 */
export const admitConnection = async (
  deps: AdmitConnectionDeps,
  input: AdmitConnectionInput,
): Promise<{ record: ConnectionRecord; slot: ConnectionSlot | undefined }> => {
  let slot: ConnectionSlot | undefined;
  if (deps.slots) {
    const { ledger, tenants, clock, plans, defaultPlan } = deps.slots;
    const tenant = await tenants.getTenant(input.tenantId);
    if (!tenant) throw new AuthenticationError('unauthenticated', 'the tenant of this connection is gone');
    const limit = tenantQuotas(tenant, plans, defaultPlan).concurrent_connections;
    slot = await acquireConnectionSlot(
      { ledger, clock },
      { tenantId: input.tenantId, connectionId: input.connectionId, limit },
    );
  }
  try {
    const record = await openConnection({ connections: deps.connections, now: deps.now }, input);
    return { record, slot };
  } catch (error) {
    if (slot && deps.slots) {
      await releaseConnectionSlot({ ledger: deps.slots.ledger }, input).catch(() => undefined);
    }
    throw error;
  }
};
