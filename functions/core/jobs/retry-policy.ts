// Core: how long a failed job waits before its next delivery: exponential backoff with full jitter,
// keyed on the queue's receive count, and when an attempt is the last one before the DLQ. This layer delays
// a message rather than looping; its window is the shared one (core/resilience/retry-policy, whose table
// places it among the other layers).
import type { MessageVisibility } from '../ports/message-visibility';
import { exponentialWindow } from '../resilience/retry-policy';

/** SQS's own ceiling for a message's visibility timeout. */
const MAX_VISIBILITY_SECONDS = 43_200;

export interface RetryPolicy {
  /** The first retry waits up to this long; each further one up to twice as long as the one before. */
  readonly baseSeconds: number;
  /** No retry waits longer than this (nor longer than the queue's visibility timeout or 12 hours). */
  readonly capSeconds: number;
  /** The queue's visibility timeout: a failed message would come back after it anyway. */
  readonly visibilityTimeoutSeconds: number;
  /** The queue's redrive `maxReceiveCount`: the delivery with this receive count is the last one. */
  readonly maxReceiveCount: number;
}

/** What the batch processor needs to back a failed message off, for one queue. */
export interface JobRetry {
  readonly visibility: MessageVisibility;
  readonly policy: RetryPolicy;
  /** [0, 1); injected so tests can pin the jitter. */
  readonly random?: () => number;
}

/**
 * The longest a retry after the `receiveCount`-th delivery may wait: `base · 2^(receiveCount-1)`, capped
 * by the policy's cap, the queue's visibility timeout (never later than without backoff) and 12 hours.
 *
 * @example
 * backoffCeiling({ baseSeconds: 5, capSeconds: 300, visibilityTimeoutSeconds: 720, maxReceiveCount: 5 }, 3); // 20
 */
export const backoffCeiling = (policy: RetryPolicy, receiveCount: number): number => {
  return Math.min(
    exponentialWindow(policy.baseSeconds, policy.capSeconds, receiveCount),
    policy.visibilityTimeoutSeconds,
    MAX_VISIBILITY_SECONDS,
  );
};

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform draw in
 * [0, ceiling], whole seconds, so retries of many failed messages spread out instead of returning together.
 *
 * @example
 * backoffSeconds(policy, message.receiveCount); // e.g. 13
 */
export const backoffSeconds = (
  policy: RetryPolicy,
  receiveCount: number,
  random: () => number = Math.random,
): number => Math.floor(random() * (backoffCeiling(policy, receiveCount) + 1));

/**
 * Whether this delivery is the last before SQS moves the message to the DLQ.
 *
 * @example
 * isFinalAttempt(policy, 5); // true when maxReceiveCount is 5
 */
export const isFinalAttempt = (policy: RetryPolicy, receiveCount: number): boolean =>
  receiveCount >= policy.maxReceiveCount;
