// Unit: the shared retry policy: the exponential window, full jitter, the attempts budget of `retrying`,
// and the budget rule across layers (one layer retries a given failure).
import { describe, expect, it } from 'vitest';
import {
  AWS_SDK_MAX_ATTEMPTS,
  CONNECTION_POST,
  exponentialWindow,
  jitteredDelayMs,
  LLM_CALL,
  OPENAI_SDK_MAX_RETRIES,
  retrying,
} from '../../../functions/core/resilience/retry-policy';

const recording = (random = () => 0.5) => {
  const sleeps: number[] = [];
  return { sleeps, deps: { sleep: async (ms: number) => void sleeps.push(ms), random } };
};

describe('exponentialWindow and jitteredDelayMs', () => {
  it('doubles the window per retry up to its cap, and draws uniformly below it', () => {
    expect([1, 2, 3, 4, 5, 6].map((retry) => exponentialWindow(250, 4_000, retry))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 4_000,
    ]);
    expect(exponentialWindow(5, 300, 0)).toBe(5);
    expect(exponentialWindow(5, 300, 1_000)).toBe(300);
    expect(jitteredDelayMs(LLM_CALL, 2, () => 0)).toBe(0);
    expect(jitteredDelayMs(LLM_CALL, 2, () => 0.999)).toBe(499);
  });
});

describe('retrying', () => {
  it('makes at most policy.attempts calls, waiting the jittered delay between them', async () => {
    const { sleeps, deps } = recording();
    let calls = 0;
    const failure = new Error('busy');

    const error = await retrying(
      CONNECTION_POST,
      deps,
      async () => {
        calls += 1;
        throw failure;
      },
      (_attempt, _error, jittered) => jittered(),
    ).catch((caught: unknown) => caught);

    expect(error).toBe(failure);
    expect(calls).toBe(CONNECTION_POST.attempts);
    expect(sleeps).toEqual([125, 250, 500]);
  });

  it('throws at once when delayBefore says so, and returns the first success', async () => {
    const { sleeps, deps } = recording();
    const attempts: number[] = [];

    const answer = await retrying(
      LLM_CALL,
      deps,
      async (attempt) => {
        attempts.push(attempt);
        if (attempt === 1) throw new Error('retry me');
        return 'ok';
      },
      () => 7,
    );
    const refused = await retrying(
      LLM_CALL,
      deps,
      async () => {
        throw new Error('not retryable');
      },
      () => undefined,
    ).catch((caught: unknown) => (caught as Error).message);

    expect(answer).toBe('ok');
    expect(attempts).toEqual([1, 2]);
    expect(sleeps).toEqual([7]);
    expect(refused).toBe('not retryable');
  });
});

describe('the retry budget', () => {
  it('lets one layer retry a given failure: the SDK under a retrying layer makes one attempt', () => {
    // A throttled frame: notifier tries × SDK attempts per try.
    expect(CONNECTION_POST.attempts * AWS_SDK_MAX_ATTEMPTS.apigatewayManagement).toBeLessThanOrEqual(4);
    // An LLM call to one provider: LlmClient retries × openai SDK attempts per retry.
    expect(LLM_CALL.attempts * (OPENAI_SDK_MAX_RETRIES + 1)).toBe(LLM_CALL.attempts);
  });
});
