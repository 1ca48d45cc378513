// Core: one more unit on a windowed counter (requests this minute, tool invocations today).
// Vocabulary: docs/glossary.md
import type { Clock } from '../ports/clock';
import type { QuotaLedger } from '../ports/quota-ledger';
import { type LedgerQuota, QuotaExceededError, type QuotaStanding } from './errors';
import { counterRef, unixSeconds } from './ledger-rules';

export interface CountDeps {
  readonly ledger: QuotaLedger;
  readonly clock: Clock;
}

/** Unlimited (`null`) quotas skip the write and yield undefined; a zero limit refuses without a write. */
export const countInWindow = async (
  deps: CountDeps,
  quota: Extract<LedgerQuota, 'requests_per_minute' | 'tool_invocations_per_day'>,
  input: { readonly tenantId: string; readonly limit: number | null },
): Promise<(QuotaStanding & { readonly remaining: number }) | undefined> => {
  if (input.limit === null) return undefined;
  const now = deps.clock.now();
  const nowSeconds = unixSeconds(now);
  const ref = counterRef(input.tenantId, quota, now);
  if (input.limit <= 0) {
    throw new QuotaExceededError(quota, { limit: 0, remaining: 0, resetsAt: ref.resetsAt }, nowSeconds);
  }
  return deps.ledger.count({ ...ref, limit: input.limit, nowSeconds });
};
