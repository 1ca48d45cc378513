// Core: the counting window of each quota (per minute, day or month, or none) and when it resets.
// Vocabulary: docs/glossary.md
import type { QuotaName } from './schemas';

export interface QuotaWindow {
  /** Identifies the current window in counter keys (`2026-11`), or null for gauges and per-run limits. */
  readonly window: string | null;
  readonly resetsAt: Date | null;
}

const pad = (value: number) => String(value).padStart(2, '0');

/**
 * All windows are in UTC.
 *
 * @example
 * quotaWindow('tokens_per_month', new Date('2026-11-21T10:00:00Z'));
 * // { window: '2026-11', resetsAt: 2026-12-01T00:00:00Z }
 */
export const quotaWindow = (name: QuotaName, now: Date): QuotaWindow => {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  switch (name) {
    case 'requests_per_minute':
      return {
        window: `${y}-${pad(m + 1)}-${pad(d)}T${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}`,
        resetsAt: new Date(Date.UTC(y, m, d, now.getUTCHours(), now.getUTCMinutes() + 1)),
      };
    case 'tool_invocations_per_day':
      return { window: `${y}-${pad(m + 1)}-${pad(d)}`, resetsAt: new Date(Date.UTC(y, m, d + 1)) };
    case 'tokens_per_month':
      return { window: `${y}-${pad(m + 1)}`, resetsAt: new Date(Date.UTC(y, m + 1, 1)) };
    case 'storage_bytes':
    case 'concurrent_connections':
    case 'concurrent_runs':
    case 'max_steps_per_run':
      return { window: null, resetsAt: null };
  }
};
