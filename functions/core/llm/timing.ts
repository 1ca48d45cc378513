// Core: the clock, sleep and randomness the LLM decorators use, injected so tests are instant and exact.
import { LlmAbortedError } from './errors';

export interface Timing {
  /** Epoch milliseconds. */
  now: () => number;
  /** Resolves after `ms`, rejects with LlmAbortedError as soon as `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1). */
  random: () => number;
}

export const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new LlmAbortedError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LlmAbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export const REAL_TIMING: Timing = { now: Date.now, sleep: realSleep, random: Math.random };
