// Core: the LLM layer's errors. Adapters translate provider failures into these; the resilience decorators
// decide from `retryable`/`kind` alone whether to retry, count a failure, or fall back.
import { InvalidRequestError, type TenanticErrorOptions, UpstreamError } from '../errors';

/** What every LLM error says about itself, whatever HTTP class it extends. */
interface LlmFailure {
  /** The provider that failed (absent when no provider was reached). */
  readonly provider: string | undefined;
  /** Trying the same provider again later may succeed. */
  readonly retryable: boolean;
  /** The provider itself is at fault (counts against its circuit breaker, allows a fallback). */
  readonly upstreamFault: boolean;
}

export interface LlmErrorOptions extends TenanticErrorOptions {
  provider?: string;
}

const retryAfterHeader = (retryAfterMs: number | undefined): Record<string, string> =>
  retryAfterMs === undefined ? {} : { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };

/**
 * The Retry-After we send when a rate-limiting upstream did not say how long to wait: long enough that our
 * callers do not hammer it, short enough to stay a hint.
 */
const UPSTREAM_RATE_LIMIT_DEFAULT_RETRY_AFTER_MS = 5_000;

/**
 * 503: the provider rate-limited us. Not a 429: API.md keeps 429 for the tenant's own quota (with its
 * x-ratelimit-* headers); the upstream's limit is an upstream failure, so it always carries a Retry-After
 * of at least one second. `retryAfterMs` is what the upstream asked, when it said: RetryingLlmClient
 * waits at least that long before trying again.
 */
export class LlmRateLimitedError extends UpstreamError implements LlmFailure {
  readonly provider: string | undefined;
  readonly retryable = true;
  readonly upstreamFault = true;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: LlmErrorOptions & { retryAfterMs?: number } = {}) {
    super('llm_rate_limited', message, {
      ...options,
      statusCode: 503,
      // Last, so no extra header can drop or shorten it.
      headers: {
        ...options.headers,
        ...retryAfterHeader(options.retryAfterMs ?? UPSTREAM_RATE_LIMIT_DEFAULT_RETRY_AFTER_MS),
      },
    });
    this.provider = options.provider;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * 502: the provider failed or could not be reached: a 5xx, a refused connection, a stream cut short,
 * or a provider-side refusal the caller cannot fix (our credentials, our upstream quota).
 */
export class LlmUnavailableError extends UpstreamError implements LlmFailure {
  readonly provider: string | undefined;
  readonly retryable: boolean;
  readonly upstreamFault = true;
  constructor(message: string, options: LlmErrorOptions & { retryable?: boolean; code?: string } = {}) {
    super(options.code ?? 'llm_unavailable', message, { ...options, statusCode: 502 });
    this.provider = options.provider;
    this.retryable = options.retryable ?? true;
  }
}

/**
 * 504: no answer before the per-call timeout (itself bounded by the caller's deadline). With
 * `beforeCall`, the deadline left no time to call at all: nobody's fault upstream, and nothing to retry.
 */
export class LlmTimeoutError extends UpstreamError implements LlmFailure {
  readonly provider: string | undefined;
  readonly retryable: boolean;
  readonly upstreamFault: boolean;
  constructor(message: string, options: LlmErrorOptions & { beforeCall?: boolean } = {}) {
    super(options.beforeCall ? 'deadline_exceeded' : 'llm_timeout', message, { ...options, statusCode: 504 });
    this.provider = options.provider;
    this.retryable = !options.beforeCall;
    this.upstreamFault = !options.beforeCall;
  }
}

/**
 * 504: the caller aborted the call (a cancelled run, a function about to time out). Not the provider's
 * fault: never retried, never counted, never a reason to fall back.
 */
export class LlmAbortedError extends UpstreamError implements LlmFailure {
  readonly provider: string | undefined;
  readonly retryable = false;
  readonly upstreamFault = false;
  constructor(message = 'the LLM call was aborted', options: LlmErrorOptions = {}) {
    super('llm_aborted', message, { ...options, statusCode: 504 });
    this.provider = options.provider;
  }
}

/**
 * 503: the circuit of the provider (or of one of its models) is open; no call was made. `retryAfterMs`:
 * time left in the cool-down.
 */
export class LlmCircuitOpenError extends UpstreamError implements LlmFailure {
  readonly provider: string | undefined;
  /** The model whose circuit is open; absent when the circuit guards the whole provider. */
  readonly model: string | undefined;
  readonly retryable = false;
  /** Nothing failed this time, but the provider is known to be failing: a fallback should answer. */
  readonly upstreamFault = true;
  readonly retryAfterMs: number;
  constructor(provider: string, retryAfterMs: number, options: LlmErrorOptions & { model?: string } = {}) {
    const failing = options.model
      ? `model ${options.model} of the ${provider} provider`
      : `the ${provider} provider`;
    super('llm_circuit_open', `${failing} is failing; calls are paused for a while`, {
      ...options,
      statusCode: 503,
      headers: { ...retryAfterHeader(retryAfterMs), ...options.headers },
    });
    this.provider = provider;
    this.model = options.model;
    this.retryAfterMs = retryAfterMs;
  }
}

/** 400: the provider refused the request as malformed (a bad tool schema, an unknown parameter...). */
export class LlmBadRequestError extends InvalidRequestError implements LlmFailure {
  readonly provider: string | undefined;
  readonly retryable = false;
  readonly upstreamFault = false;
  constructor(message: string, options: LlmErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'llm_bad_request', message, options);
    this.provider = options.provider;
  }
}

/** 400: the messages and tools do not fit the model's context window. */
export class LlmContextTooLongError extends InvalidRequestError implements LlmFailure {
  readonly provider: string | undefined;
  readonly retryable = false;
  readonly upstreamFault = false;
  constructor(message: string, options: LlmErrorOptions = {}) {
    super('context_length_exceeded', message, { param: 'messages', ...options });
    this.provider = options.provider;
  }
}

export type LlmError =
  | LlmRateLimitedError
  | LlmUnavailableError
  | LlmTimeoutError
  | LlmAbortedError
  | LlmCircuitOpenError
  | LlmBadRequestError
  | LlmContextTooLongError;

export const isLlmError = (error: unknown): error is LlmError =>
  error instanceof LlmRateLimitedError ||
  error instanceof LlmUnavailableError ||
  error instanceof LlmTimeoutError ||
  error instanceof LlmAbortedError ||
  error instanceof LlmCircuitOpenError ||
  error instanceof LlmBadRequestError ||
  error instanceof LlmContextTooLongError;

/** The same provider may answer if asked again. Unknown errors are bugs: never retried. */
export const isRetryable = (error: unknown): boolean => isLlmError(error) && error.retryable;

/** The provider is at fault: count it against its circuit, and let the next link of a chain answer. */
export const isUpstreamFault = (error: unknown): boolean => isLlmError(error) && error.upstreamFault;
