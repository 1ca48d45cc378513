// Core: an LlmClient decorator that retries retryable failures with full jitter, honours the provider's
// Retry-After, and never waits past the caller's deadline. A stream is retried only before it has
// yielded anything: after that, a retry would repeat text the caller already relayed.
import type { LlmClient } from '../ports/llm-client';
import { isRetryable, LlmRateLimitedError } from './errors';
import { REAL_TIMING, type Timing } from './timing';
import type { ChatCompletion, ChatDelta, ChatRequest, LlmCallOptions } from './types';

export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  maxAttempts?: number;
  /** Cap of the exponential window before jitter (default 250 ms: 250, 500, 1000, ...). */
  baseDelayMs?: number;
  /** The window never grows past this (default 4 s). */
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
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly minAttemptMs: number;

  constructor(
    private readonly inner: LlmClient,
    private readonly options: RetryOptions = {},
    private readonly timing: Timing = REAL_TIMING,
  ) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 4_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.minAttemptMs = options.minAttemptMs ?? 500;
  }

  /** The wait before attempt `attempt + 1`, or undefined when the error must go up instead. */
  private delayBefore(attempt: number, error: unknown, options: LlmCallOptions): number | undefined {
    if (attempt >= this.maxAttempts || !isRetryable(error) || options.signal?.aborted) return undefined;
    // Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n)), so clients spread out.
    const window = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    let delay = Math.floor(this.timing.random() * window);
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
    return delay;
  }

  private async wait(attempt: number, delayMs: number, error: unknown, options: LlmCallOptions) {
    this.options.onRetry?.({ attempt, delayMs, error });
    await this.timing.sleep(delayMs, options.signal);
  }

  async complete(request: ChatRequest, options: LlmCallOptions = {}): Promise<ChatCompletion> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.inner.complete(request, options);
      } catch (error) {
        const delay = this.delayBefore(attempt, error, options);
        if (delay === undefined) throw error;
        await this.wait(attempt, delay, error, options);
      }
    }
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
        await this.wait(attempt, delay, error, options);
      }
    }
  }
}
