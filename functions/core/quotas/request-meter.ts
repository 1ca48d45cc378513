// Core: a metered request's admission. Its `requests_per_minute` count rides on its first token hold
// (one write for both); a request that ends up holding nothing is counted on its own.
// Vocabulary: docs/glossary.md
import type { Clock } from '../ports/clock';
import type { CountRequest, QuotaLedger } from '../ports/quota-ledger';
import { QuotaExceededError, type QuotaStanding } from './errors';
import { counterRef, unixSeconds } from './ledger-rules';

export type RequestStanding = QuotaStanding & { readonly remaining: number };

/**
 * One per request, created where the rate limit is applied and handed to the use case. `take` gives the
 * count to fold into a hold exactly once; `admitRequest` counts it alone. After either, `standing` is what
 * the `x-ratelimit-*-requests` headers report (absent for unlimited tenants, or when a retried hold found
 * its earlier attempt, which had counted).
 *
 * @example
 * const meter = new RequestMeter(tenant.id, 600);
 * await reserveTokens(deps, { tenantId: tenant.id, limit, tokens, meter }); // counts and holds: one write
 * meter.standing; // { limit: 600, remaining: 599, resetsAt }
 */
export class RequestMeter {
  private taken = false;
  standing: RequestStanding | undefined;

  constructor(
    readonly tenantId: string,
    /** The tenant's `requests_per_minute`; null counts nothing. */
    readonly limit: number | null,
  ) {}

  /** Whether the request still has to be counted. */
  get pending(): boolean {
    return !this.taken && this.limit !== null;
  }

  /**
   * The count to write with the caller's hold, once; undefined when already taken or unlimited. A zero
   * limit refuses at once, without a write.
   */
  take(clock: Clock): CountRequest | undefined {
    if (!this.pending || this.limit === null) return undefined;
    this.taken = true;
    return requestCount(this.tenantId, this.limit, clock.now());
  }

  /**
   * The request was counted already, by a hold taken for it elsewhere (an early admission): nothing is to
   * be counted, and `counted` (its write's standing) is what the headers report.
   */
  adopt(counted: RequestStanding | undefined): void {
    this.taken = true;
    this.standing = counted;
  }
}

/**
 * The write that counts one request at `now` against a `requests_per_minute` of `limit`; a zero limit
 * refuses at once, without a write.
 *
 * @example
 * await ledger.count(requestCount(tenant.id, 600, clock.now()));
 */
export const requestCount = (tenantId: string, limit: number, now: Date): CountRequest => {
  const ref = counterRef(tenantId, 'requests_per_minute', now);
  if (limit <= 0) {
    throw new QuotaExceededError(
      'requests_per_minute',
      { limit: 0, remaining: 0, resetsAt: ref.resetsAt },
      unixSeconds(now),
    );
  }
  return { ...ref, limit, nowSeconds: unixSeconds(now) };
};

/**
 * Counts the request on its own if nothing has yet: before work that holds no tokens (an async run
 * queued for later, an unlimited token budget), or after a request that ended before its first hold.
 *
 * @example
 * await admitRequest({ ledger, clock }, meter); // one conditional write, or none
 */
export const admitRequest = async (
  deps: { readonly ledger: QuotaLedger; readonly clock: Clock },
  meter: RequestMeter | undefined,
): Promise<void> => {
  const count = meter?.take(deps.clock);
  if (!meter || !count) return;
  meter.standing = await deps.ledger.count(count);
};
