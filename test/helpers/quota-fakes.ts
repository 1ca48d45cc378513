// Test helper: an in-memory QuotaLedger with the DynamoDB adapter's semantics (limits on committed,
// idempotent holds, expired holds reclaimed when a hold is refused), for unit tests through the port.
import type {
  CounterRef,
  CountRequest,
  GrowRequest,
  GrowResult,
  Hold,
  HoldRequest,
  HoldResult,
  QuotaLedger,
  ReleaseOptions,
  ReleaseResult,
  RenewResult,
  SettleResult,
} from '../../functions/core/ports/quota-ledger';
import { QuotaExceededError, type QuotaStanding } from '../../functions/core/quotas/errors';

interface Counter {
  used: number;
  reserved: number;
  overrun: number;
  holds: Map<string, { amount: number; expiresAt: number }>;
}

const keyOf = (ref: CounterRef) => `${ref.tenantId}|${ref.quota}|${ref.window ?? ''}`;

export class InMemoryQuotaLedger implements QuotaLedger {
  readonly counters = new Map<string, Counter>();
  readonly calls: string[] = [];

  counter(ref: CounterRef): Counter {
    let counter = this.counters.get(keyOf(ref));
    if (!counter) {
      counter = { used: 0, reserved: 0, overrun: 0, holds: new Map() };
      this.counters.set(keyOf(ref), counter);
    }
    return counter;
  }

  async count(request: CountRequest): Promise<QuotaStanding & { remaining: number }> {
    this.calls.push('count');
    const counter = this.counter(request);
    const standing = { limit: request.limit, resetsAt: request.resetsAt };
    if (counter.used >= request.limit) {
      throw new QuotaExceededError(request.quota, { ...standing, remaining: 0 }, request.nowSeconds);
    }
    counter.used += 1;
    return { ...standing, remaining: request.limit - counter.used };
  }

  async hold(request: HoldRequest): Promise<HoldResult> {
    this.calls.push(request.countRequest ? 'hold+count' : 'hold');
    const counter = this.counter(request);
    const minute = request.countRequest && this.counter(request.countRequest);
    const ref = {
      tenantId: request.tenantId,
      quota: request.quota,
      window: request.window,
      resetsAt: request.resetsAt,
    };
    const existing = counter.holds.get(request.holdId);
    const standing = () => ({
      limit: request.limit,
      remaining: request.limit - counter.used - counter.reserved,
      resetsAt: request.resetsAt,
    });
    if (existing) return { hold: { ...ref, holdId: request.holdId, ...existing }, standing: standing() };
    if (request.countRequest && minute && minute.used >= request.countRequest.limit) {
      const { limit, resetsAt, nowSeconds } = request.countRequest;
      throw new QuotaExceededError('requests_per_minute', { limit, remaining: 0, resetsAt }, nowSeconds);
    }
    this.reclaimExpired(counter, request.amount, request);
    if (counter.used + counter.reserved + request.amount > request.limit) {
      throw new QuotaExceededError(request.quota, standing(), request.nowSeconds, {
        requested: request.amount,
      });
    }
    const held = { amount: request.amount, expiresAt: request.nowSeconds + request.leaseSeconds };
    counter.holds.set(request.holdId, held);
    counter.reserved += request.amount;
    if (!request.countRequest || !minute)
      return { hold: { ...ref, holdId: request.holdId, ...held }, standing: standing() };
    minute.used += 1;
    const { limit, resetsAt } = request.countRequest;
    return {
      hold: { ...ref, holdId: request.holdId, ...held },
      standing: standing(),
      counted: { limit, remaining: limit - minute.used, resetsAt },
    };
  }

  async settle(hold: Hold, used: number): Promise<SettleResult> {
    this.calls.push('settle');
    const counter = this.counter(hold);
    if (counter.holds.get(hold.holdId)?.amount !== hold.amount) return { status: 'not_held' };
    counter.holds.delete(hold.holdId);
    const charged = Math.min(used, hold.amount);
    counter.reserved -= hold.amount;
    counter.used += charged;
    counter.overrun += used - charged;
    return { status: 'settled', charged, overrun: used - charged };
  }

  async release(hold: Hold, options: ReleaseOptions = {}): Promise<ReleaseResult> {
    this.calls.push(options.uncount ? 'release+uncount' : 'release');
    const counter = this.counter(hold);
    if (counter.holds.get(hold.holdId)?.amount !== hold.amount) return { status: 'not_held' };
    counter.holds.delete(hold.holdId);
    counter.reserved -= hold.amount;
    if (options.uncount) {
      const minute = this.counter(options.uncount);
      minute.used = Math.max(0, minute.used - 1);
    }
    return { status: 'released' };
  }

  async grow(hold: Hold, request: GrowRequest): Promise<GrowResult> {
    this.calls.push('grow');
    const counter = this.counter(hold);
    const held = counter.holds.get(hold.holdId);
    if (held?.amount !== hold.amount) return { status: 'not_held' };
    const delta = request.amount - hold.amount;
    this.reclaimExpired(counter, delta, request, hold.holdId);
    const standing = () => ({
      limit: request.limit,
      remaining: request.limit - counter.used - counter.reserved,
      resetsAt: hold.resetsAt,
    });
    if (counter.used + counter.reserved + delta > request.limit) {
      throw new QuotaExceededError(hold.quota, standing(), request.nowSeconds, { requested: request.amount });
    }
    held.amount = request.amount;
    counter.reserved += delta;
    return { status: 'grown', hold: { ...hold, amount: request.amount }, standing: standing() };
  }

  /** As the real ledger does on a refusal: expired holds (but `keep`) go, while `amount` does not fit. */
  private reclaimExpired(
    counter: { used: number; reserved: number; holds: Map<string, { amount: number; expiresAt: number }> },
    amount: number,
    request: { readonly limit: number; readonly nowSeconds: number },
    keep?: string,
  ): void {
    for (const [id, hold] of counter.holds) {
      if (
        id !== keep &&
        hold.expiresAt <= request.nowSeconds &&
        counter.used + counter.reserved + amount > request.limit
      ) {
        counter.holds.delete(id);
        counter.reserved -= hold.amount;
      }
    }
  }

  async renew(hold: Hold, expiresAt: number): Promise<RenewResult> {
    this.calls.push('renew');
    const held = this.counter(hold).holds.get(hold.holdId);
    if (held?.amount !== hold.amount) return { status: 'not_held' };
    held.expiresAt = expiresAt;
    return { status: 'renewed' };
  }
}
