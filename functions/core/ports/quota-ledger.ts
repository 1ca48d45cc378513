// Port: the quota ledger: atomic counters per window, and leased holds (token reservations, run slots)
// that can never take a quota past its limit, whatever the concurrency.
// Vocabulary: docs/glossary.md
import type { LedgerQuota, QuotaStanding } from '../quotas/errors';

/** One counter: a tenant's quota in one window (`2026-11`), or a gauge with no window (`null`). */
export interface CounterRef {
  readonly tenantId: string;
  readonly quota: LedgerQuota;
  readonly window: string | null;
  /** Unix seconds when the window resets; null for gauges. */
  readonly resetsAt: number | null;
}

export interface CountRequest extends CounterRef {
  /** At least 1: a zero limit is refused by the use case without a write. */
  readonly limit: number;
  readonly nowSeconds: number;
}

export interface HoldRequest extends CounterRef {
  /** Names the hold; a repeated id returns the existing hold instead of holding twice. */
  readonly holdId: string;
  /** Positive, and at most `limit` (the use case checks both before any write). */
  readonly amount: number;
  readonly limit: number;
  readonly nowSeconds: number;
  /** After this many seconds a hold that was neither settled nor released may be reclaimed. */
  readonly leaseSeconds: number;
  /**
   * Also counts the request against `requests_per_minute` in the same atomic write (a metered request's
   * admission: both or neither). Its `tenantId` must be the hold's.
   */
  readonly countRequest?: CountRequest;
}

/** What `hold` granted, and (with `countRequest`) the minute's standing after counting the request. */
export interface HoldResult {
  readonly hold: Hold;
  readonly standing: QuotaStanding;
  /** Absent when the hold already existed (a retry): the first attempt counted the request. */
  readonly counted?: QuotaStanding & { readonly remaining: number };
}

/** A hold as the ledger granted it: enough to settle or release it later, JSON-safe. */
export interface Hold extends CounterRef {
  readonly holdId: string;
  readonly amount: number;
  /** Unix seconds after which the hold may be reclaimed. */
  readonly expiresAt: number;
}

export type SettleResult =
  | {
      readonly status: 'settled';
      /** What `used` grew by: the real usage, capped at the hold. */
      readonly charged: number;
      /** Real usage beyond the hold: recorded apart, never charged (so `used` stays within the limit). */
      readonly overrun: number;
    }
  /** Already settled or released (a retry), or reclaimed after its lease: nothing changed. */
  | { readonly status: 'not_held' };

export type ReleaseResult = { readonly status: 'released' } | { readonly status: 'not_held' };

/** A larger amount for a live hold, under the limit it must stay within. */
export interface GrowRequest {
  /** The hold's new amount: at least its current one, and at most `limit`. */
  readonly amount: number;
  readonly limit: number;
  readonly nowSeconds: number;
}

export type GrowResult =
  | { readonly status: 'grown'; readonly hold: Hold; readonly standing: QuotaStanding }
  /** The hold is gone (settled, released, or reclaimed after its lease): nothing changed. */
  | { readonly status: 'not_held' };

export interface ReleaseOptions {
  /**
   * The request the hold's write counted (`HoldRequest.countRequest`), taken back in the same write: a
   * request admitted ahead of its checks that then did not go ahead. Only while the hold is still there
   * (so a retried release never uncounts twice), and only within the minute it was counted in.
   */
  readonly uncount?: CountRequest;
}

export type RenewResult = { readonly status: 'renewed' } | { readonly status: 'not_held' };

/**
 * Implementations make every operation one conditional write (a refused hold may add one reclaim of
 * expired holds and one retry) and throw `QuotaExceededError` when a limit would be passed. On a
 * counter, `used + reserved = committed ≤ limit` holds after every write.
 *
 * @example
 * const ledger: QuotaLedger = new DynamoQuotaLedger(documentClient, tableName);
 * const { hold } = await ledger.hold({ tenantId, quota: 'tokens_per_month', window: '2026-11',
 *   resetsAt: 1796083200, holdId: 'res_1', amount: 1500, limit: 100_000, nowSeconds, leaseSeconds: 900 });
 * await ledger.settle(hold, 420); // { status: 'settled', charged: 420, overrun: 0 }
 * await ledger.settle(hold, 420); // { status: 'not_held' }: a retry never charges twice
 */
export interface QuotaLedger {
  /** Adds one to a windowed counter if it stays within the limit. */
  count(request: CountRequest): Promise<QuotaStanding & { readonly remaining: number }>;
  /**
   * Holds `amount` so that `committed` stays within the limit; with `countRequest`, counts the request in
   * the same write (refused by either limit: `QuotaExceededError` naming it, and nothing changes).
   */
  hold(request: HoldRequest): Promise<HoldResult>;
  /** Turns a hold into real usage in one write; idempotent per hold id. */
  settle(hold: Hold, used: number): Promise<SettleResult>;
  /** Gives a hold back in one write; idempotent per hold id. */
  release(hold: Hold, options?: ReleaseOptions): Promise<ReleaseResult>;
  /**
   * Raises a live hold to `request.amount` in one write, so that `committed` stays within the limit
   * (refused: `QuotaExceededError`, and the hold stays as it was). A holder that took a first guess at its
   * worst case grows the hold once it knows it.
   */
  grow(hold: Hold, request: GrowRequest): Promise<GrowResult>;
  /**
   * Moves a live hold's lease end to `expiresAt` (unix seconds) in one write: a holder that first asked
   * for a short lease (it might crash before its work is on record) asks for a longer one once it is.
   * `not_held` when the hold is gone (settled, released, or reclaimed after its lease).
   */
  renew(hold: Hold, expiresAt: number): Promise<RenewResult>;
}
