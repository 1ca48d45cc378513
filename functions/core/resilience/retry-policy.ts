// Core: the one retry policy of the platform: each layer's attempts and backoff (exponential, full jitter),
// and the budget that keeps nested layers from multiplying. Plain TypeScript, no SDK: adapters import it
// for the settings of their SDK clients, core decorators for their loops.
//
// Why not `cockatiel`: the LLM layer must honour Retry-After, never wait past the caller's deadline, retry
// a stream only before its first delta, and run on an injected clock (tests are instant and exact); the
// SQS layer delays a message rather than looping. A small helper covers all of these; cockatiel would
// cover the loop only, add a dependency to every bundle, and sleep on real timers.
//
// Budget rule: **one layer retries a given failure**. Where an outer layer retries, the SDK inside it is
// set to one attempt; an outer layer does not retry what an inner one already gave up on. The product of
// attempts along any path from a caller to the wire is therefore the attempts of that one layer.
//
// | Layer (who sends)                          | Before                         | After (this module)             |
// |--------------------------------------------|--------------------------------|---------------------------------|
// | openai SDK (`maxRetries`)                  | 0 retries (1 attempt)          | `OPENAI_SDK_MAX_RETRIES` = 0    |
// | LLM call per provider (RetryingLlmClient)  | 3 attempts, 250 ms..4 s        | `LLM_CALL` 3 attempts, same     |
// | LLM fallback chain (FallbackLlmClient)     | 1 call per link (no retry)     | unchanged: next link, not again |
// | @connections SDK client (`maxAttempts`)    | 1                              | `AWS_SDK_MAX_ATTEMPTS` 1        |
// | frame post, notifier (throttled)           | 3 tries, 50..400 ms            | `CONNECTION_POST` 4, 250 ms..1 s|
// | frame post, RunPublisher (throttled)       | 4 tries × notifier's 3 = 12    | none: drops the connection      |
// | DynamoDB, SQS, S3, Secrets SDK clients     | SDK default 3 (implicit)       | `AWS_SDK_MAX_ATTEMPTS` 3, named |
// | SQS job redelivery (visibility backoff)    | receives ≤ maxReceiveCount     | unchanged; window `exponential` |
// | DynamoDB batch UnprocessedItems (adapter)  | 8 tries, 50 ms..1 s, own code  | `DYNAMODB_UNPROCESSED`, same    |
//
// A throttled frame: 12 PostToConnection requests at most before, 4 after (CONNECTION_POST.attempts × 1).
// An LLM call: 3 requests per link. An SQS job redelivery reruns the whole job, so its AWS calls are each
// retried by their SDK on every delivery: that product is the queue's, by design (a message, not a loop),
// bounded by maxReceiveCount × 3 per request and spread over minutes.
//
// Not here, on purpose: loops that redo work after a *conflict*, not a failure (RunSeqConflictError in
// RunPublisher, SessionBusyError saves, append-messages, token holds, quota admission) re-read and try
// again at once; they wait for nothing and are bounded by their own small counts.

/** How often, and how far apart, one layer tries. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means the layer does not retry. */
  readonly attempts: number;
  /** Upper bound of the wait before the first retry; doubles per further retry. */
  readonly baseDelayMs: number;
  /** The window never grows past this. */
  readonly maxDelayMs: number;
}

/** LLM calls to one provider (per link of the fallback chain). */
export const LLM_CALL: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 4_000 };

/**
 * A post (or close) of a WebSocket frame that @connections throttled. The only layer that retries it: the
 * SDK client makes one attempt, and RunPublisher drops a connection still throttled after these.
 */
export const CONNECTION_POST: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 1_000 };

/**
 * What a DynamoDB batch call (BatchGetItem, BatchWriteItem) left unprocessed, asked for again: a partial
 * success is not an SDK error, so the SDK's own retries never see it and this is the only layer.
 */
export const DYNAMODB_UNPROCESSED: RetryPolicy = { attempts: 8, baseDelayMs: 50, maxDelayMs: 1_000 };

/** The openai SDK's own retries: none, LLM_CALL owns them (Retry-After, the deadline, breakers outside). */
export const OPENAI_SDK_MAX_RETRIES = 0;

/**
 * Attempts of each AWS SDK client. @connections: 1, CONNECTION_POST retries. The others: the SDK's standard
 * retry (3, its own jittered backoff) is the only per-request layer; no adapter loops over their errors.
 */
export const AWS_SDK_MAX_ATTEMPTS = {
  apigatewayManagement: 1,
  dynamodb: 3,
  sqs: 3,
  s3: 3,
  secretsManager: 3,
} as const;

/**
 * The exponential window before retry `retry` (1-based): `base · 2^(retry-1)`, never past `cap`.
 *
 * @example
 * exponentialWindow(250, 4_000, 3); // 1000
 */
export const exponentialWindow = (base: number, cap: number, retry: number): number =>
  Math.min(cap, base * 2 ** Math.min(Math.max(0, retry - 1), 30));

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, window), whole
 * milliseconds, so clients that failed together do not come back together.
 *
 * @example
 * jitteredDelayMs(LLM_CALL, 1, Math.random); // 0..249
 */
export const jitteredDelayMs = (policy: RetryPolicy, retry: number, random: () => number): number =>
  Math.floor(random() * exponentialWindow(policy.baseDelayMs, policy.maxDelayMs, retry));

interface RetryDeps {
  /** Waits `ms`; injected so tests neither wait nor depend on chance. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/**
 * Runs `call` at most `policy.attempts` times. After a failed attempt that is not the last,
 * `delayBefore(attempt, error, jittered)` says how long to wait before the next one (`jittered()` draws
 * the policy's full-jitter delay), or undefined to throw `error` now (not retryable, no time left).
 *
 * @example
 * await retrying(CONNECTION_POST, deps, () => client.send(command), (_attempt, error, jittered) =>
 *   isThrottled(error) ? jittered() : undefined);
 */
export const retrying = async <T>(
  policy: RetryPolicy,
  deps: RetryDeps,
  call: (attempt: number) => Promise<T>,
  delayBefore: (attempt: number, error: unknown, jittered: () => number) => number | undefined,
): Promise<T> => {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call(attempt);
    } catch (error) {
      const jittered = () => jitteredDelayMs(policy, attempt, deps.random);
      const delay = attempt >= policy.attempts ? undefined : delayBefore(attempt, error, jittered);
      if (delay === undefined) throw error;
      await deps.sleep(delay);
    }
  }
};
