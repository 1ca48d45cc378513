// Core: the errors of the quotas module. An exhausted quota is a 429 `rate_limit_error` that carries
// `Retry-After` and OpenAI's `x-ratelimit-*` headers, so OpenAI clients raise their RateLimitError.
import { InvalidRequestError, RateLimitError } from '../errors';
import type { QuotaName } from './schemas';

/** What the ledger counts: the windowed quotas of shared/API.md, and the concurrent runs and connections gauges. */
export type LedgerQuota =
  | Extract<
      QuotaName,
      'requests_per_minute' | 'tokens_per_month' | 'tool_invocations_per_day' | 'concurrent_connections'
    >
  | 'concurrent_runs';

/** A quota's standing after (or instead of) a write. Times are Unix seconds. */
export interface QuotaStanding {
  readonly limit: number;
  /** Unknown when the request was refused without reading the counter (it could never fit). */
  readonly remaining?: number;
  /** When the window resets; null for gauges such as concurrent runs. */
  readonly resetsAt: number | null;
}

/** OpenAI's header suffixes; quotas OpenAI has no header for get `Retry-After` only. */
const HEADER_SUFFIX: Partial<Record<LedgerQuota, string>> = {
  requests_per_minute: 'requests',
  tokens_per_month: 'tokens',
};

const CODES: Record<LedgerQuota, string> = {
  requests_per_minute: 'rate_limit_exceeded',
  tokens_per_month: 'token_quota_exceeded',
  tool_invocations_per_day: 'tool_invocation_quota_exceeded',
  concurrent_runs: 'concurrent_runs_exceeded',
  concurrent_connections: 'concurrent_connections_exceeded',
};

const MESSAGES: Record<LedgerQuota, string> = {
  requests_per_minute: 'Rate limit reached for requests per minute',
  tokens_per_month: 'Monthly token quota reached',
  tool_invocations_per_day: 'Daily tool invocation quota reached',
  concurrent_runs: 'Too many runs in progress',
  concurrent_connections: 'Too many open WebSocket connections',
};

/**
 * A duration the way OpenAI writes `x-ratelimit-reset-*`: `45s`, `6m0s`, `719h59m59s`.
 *
 * @example
 * resetDuration(360); // '6m0s'
 */
export const resetDuration = (seconds: number): string => {
  const total = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
};

/**
 * The `x-ratelimit-*` headers of a standing, named as OpenAI names them.
 *
 * @example
 * rateLimitHeaders('requests_per_minute', { limit: 60, remaining: 59, resetsAt: 1795000020 }, 1795000000);
 * // { 'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-reset-requests': '20s' }
 */
export const rateLimitHeaders = (
  quota: LedgerQuota,
  standing: QuotaStanding,
  nowSeconds: number,
): Record<string, string> => {
  const suffix = HEADER_SUFFIX[quota];
  if (!suffix) return {};
  return {
    [`x-ratelimit-limit-${suffix}`]: String(standing.limit),
    ...(standing.remaining !== undefined && {
      [`x-ratelimit-remaining-${suffix}`]: String(Math.max(0, standing.remaining)),
    }),
    ...(standing.resetsAt !== null && {
      [`x-ratelimit-reset-${suffix}`]: resetDuration(standing.resetsAt - nowSeconds),
    }),
  };
};

/** 429: the request would take a quota past its limit. Nothing was charged. */
export class QuotaExceededError extends RateLimitError {
  readonly quota: LedgerQuota;
  readonly standing: QuotaStanding;

  constructor(
    quota: LedgerQuota,
    standing: QuotaStanding,
    nowSeconds: number,
    options: ErrorOptions & { requested?: number } = {},
  ) {
    // Gauges free up when a run ends, not at a known time: a short wait is the honest hint.
    const retryAfter =
      standing.resetsAt === null ? 1 : Math.max(1, Math.ceil(standing.resetsAt - nowSeconds));
    const requested = options.requested === undefined ? '' : `, requested ${options.requested}`;
    super(
      CODES[quota],
      `${MESSAGES[quota]}: limit ${standing.limit}${requested}. Retry after ${retryAfter}s.`,
      {
        ...(options.cause !== undefined && { cause: options.cause }),
        headers: {
          'Retry-After': String(retryAfter),
          ...rateLimitHeaders(quota, standing, nowSeconds),
          // Monthly and daily quotas do not come back within a client's retry backoff: openai-node
          // honours this header and raises at once instead of retrying.
          ...((quota === 'tokens_per_month' || quota === 'tool_invocations_per_day') && {
            'x-should-retry': 'false',
          }),
        },
      },
    );
    this.quota = quota;
    this.standing = standing;
  }
}

/** 400: a token amount, lease or hold id the ledger cannot take (a caller's bug or bad input). */
export class InvalidReservationError extends InvalidRequestError {
  constructor(
    code: 'invalid_token_amount' | 'invalid_lease' | 'invalid_hold_id',
    message: string,
    param: string,
    options?: ErrorOptions,
  ) {
    super(code, message, { ...options, param });
  }
}
