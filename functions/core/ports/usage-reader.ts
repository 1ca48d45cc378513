// Port: reads a tenant's quota counters (used and reserved) for the current windows.
import type { QuotaName } from '../quotas/schemas';

export interface QuotaCounter {
  readonly used: number;
  readonly reserved: number;
}

/**
 * Counters that were never written read as zero, so a new tenant has a complete report.
 *
 * @example
 * const counters = await usage.readCounters('ten_...', new Date());
 * counters.tokens_per_month; // { used: 0, reserved: 0 }
 */
export interface UsageReader {
  readCounters(tenantId: string, now: Date): Promise<Record<QuotaName, QuotaCounter>>;
}
