// Core: an LlmClient decorator that retries retryable failures with full jitter, honours the provider's
// Retry-After, and never waits past the caller's deadline. A stream is retried only before it has
// yielded anything: after that, a retry would repeat text the caller already relayed.
import type { LlmClient } from '../ports/llm-client';
import { jitteredDelayMs, LLM_CALL, type RetryPolicy, retrying } from '../resilience/retry-policy';
import { isRetryable, LlmRateLimitedError } from './errors';
import { REAL_TIMING, type Timing } from './timing';
import type { ChatCompletion, ChatDelta, ChatRequest, LlmCallOptions } from './types';

export interface RetryOptions {
  /** Attempts in all, the first included (default LLM_CALL's 3). */
  maxAttempts?: number;
  /** Cap of the exponential window before jitter (default LLM_CALL's 250 ms: 250, 500, 1000, ...). */
  baseDelayMs?: number;
  /** The window never grows past this (default LLM_CALL's 4 s). */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the error goes up (a fallback may answer). */
  maxRetryAfterMs?: number;
  /** Time kept free before the deadline for the retried call itself to have a chance (default 500 ms). */
  minAttemptMs?: number;
  /** Called before each wait; for logs and metrics. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/**
 * Retries `inner` on retryable errors only (rate limits, timeouts, 5xx, broken connections).
 *
 * @example
 * const llm = new RetryingLlmClient(openAi, { maxAttempts: 3 });
 * await llm.complete(request, { deadlineMs: Date.now() + 20_000 });
 */
export class RetryingLlmClient implements LlmClient {
  private readonly policy: RetryPolicy;
  private readonly maxRetryAfterMs: number;
  private readonly minAttemptMs: number;

  constructor(
    private readonly inner: LlmClient,
    private readonly options: RetryOptions = {},
    private readonly timing: Timing = REAL_TIMING,
  ) {
    this.policy = {
      attempts: options.maxAttempts ?? LLM_CALL.attempts,
      baseDelayMs: options.baseDelayMs ?? LLM_CALL.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? LLM_CALL.maxDelayMs,
    };
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.minAttemptMs = options.minAttemptMs ?? 500;
  }

  /** The wait before attempt `attempt + 1`, or undefined when the error must go up instead. */
  private delayBefore(attempt: number, error: unknown, options: LlmCallOptions): number | undefined {
    if (attempt >= this.policy.attempts || !isRetryable(error) || options.signal?.aborted) return undefined;
    let delay = jitteredDelayMs(this.policy, attempt, this.timing.random);
    if (error instanceof LlmRateLimitedError && error.retryAfterMs !== undefined) {
      if (error.retryAfterMs > this.maxRetryAfterMs) return undefined;
      delay = Math.max(delay, error.retryAfterMs);
    }
    if (
      options.deadlineMs !== undefined &&
      this.timing.now() + delay + this.minAttemptMs > options.deadlineMs
    ) {
      return undefined;
    }
    this.options.onRetry?.({ attempt, delayMs: delay, error });
    return delay;
  }

  async complete(request: ChatRequest, options: LlmCallOptions = {}): Promise<ChatCompletion> {
    return retrying(
      this.policy,
      { random: this.timing.random, sleep: (ms) => this.timing.sleep(ms, options.signal) },
      () => this.inner.complete(request, options),
      (attempt, error) => this.delayBefore(attempt, error, options),
    );
  }

  async *stream(request: ChatRequest, options: LlmCallOptions = {}): AsyncGenerator<ChatDelta> {
    for (let attempt = 1; ; attempt += 1) {
      let yielded = false;
      try {
        for await (const delta of this.inner.stream(request, options)) {
          yielded = true;
          yield delta;
        }
        return;
      } catch (error) {
        const delay = yielded ? undefined : this.delayBefore(attempt, error, options);
        if (delay === undefined) throw error;
        await this.timing.sleep(delay, options.signal);
      }
    }
  }
}
