// Core: what every quota use case agrees on: counter references from the windows, lease bounds, and
// the checks that run before any write (so bad amounts are a 400 and never touch the ledger).
// Vocabulary: docs/glossary.md
import type { CounterRef } from '../ports/quota-ledger';
import { InvalidReservationError, type LedgerQuota } from './errors';
import type { QuotaName } from './schemas';
import { quotaWindow } from './windows';

/**
 * A hold outlives its holder by construction: 15 minutes is Lambda's longest timeout, so by the time a
 * hold may be reclaimed, the function that took it is gone and can no longer settle it.
 */
export const DEFAULT_LEASE_SECONDS = 900;
/** Longer leases would let a crashed holder block a quota for too long. */
export const MAX_LEASE_SECONDS = 3600;

/**
 * A connection slot is held for the life of the socket, which API Gateway caps at 2 hours; `$disconnect`
 * gives it back. Only when that `$disconnect` is lost does the lease matter: it outlives the longest
 * possible connection by 5 minutes, so a live socket's slot is never reclaimed, and a lost one's is.
 * It is the one lease above MAX_LEASE_SECONDS, set by the use case, never by a caller.
 */
export const CONNECTION_LEASE_SECONDS = 2 * 60 * 60 + 300;

/** Hold ids become attribute names in the ledger: a closed alphabet keeps them inert. */
const HOLD_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/**
 * The counter a quota writes to now: the current window of a windowed quota, or the gauge.
 *
 * @example
 * counterRef('ten_1', 'tokens_per_month', new Date('2026-11-21T10:00:00Z'));
 * // { tenantId: 'ten_1', quota: 'tokens_per_month', window: '2026-11', resetsAt: 1796083200 }
 */
export const counterRef = (tenantId: string, quota: LedgerQuota, now: Date): CounterRef => {
  if (quota === 'concurrent_runs') return { tenantId, quota, window: null, resetsAt: null };
  const { window, resetsAt } = quotaWindow(quota satisfies QuotaName, now);
  return { tenantId, quota, window, resetsAt: resetsAt === null ? null : unixSeconds(resetsAt) };
};

export const assertWholeAmount = (
  value: number,
  param: string,
  { min, code = 'invalid_token_amount' }: { min: number; code?: 'invalid_token_amount' | 'invalid_lease' },
): void => {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidReservationError(
      code,
      `${param} must be a whole number of at least ${min}; got ${value}`,
      param,
    );
  }
};

export const assertHoldId = (holdId: string, param: string): void => {
  if (!HOLD_ID_PATTERN.test(holdId)) {
    throw new InvalidReservationError(
      'invalid_hold_id',
      `${param} must match ${HOLD_ID_PATTERN.source}`,
      param,
    );
  }
};

export const leaseSeconds = (requested: number | undefined): number => {
  if (requested === undefined) return DEFAULT_LEASE_SECONDS;
  assertWholeAmount(requested, 'lease_seconds', { min: 1, code: 'invalid_lease' });
  return Math.min(requested, MAX_LEASE_SECONDS);
};
