import { describe, expect, it } from 'vitest';
import {
  LlmAbortedError,
  LlmBadRequestError,
  LlmRateLimitedError,
  LlmTimeoutError,
  LlmUnavailableError,
} from '../../../functions/core/llm/errors';
import { RetryingLlmClient } from '../../../functions/core/llm/retrying-llm-client';
import { drain, manualTiming, request, ScriptedLlmClient } from './fakes';

const unavailable = () => new LlmUnavailableError('boom', { provider: 'fake' });

describe('RetryingLlmClient', () => {
  it('retries a retryable failure and returns the later answer', async () => {
    const inner = new ScriptedLlmClient([
      { error: unavailable() },
      { error: unavailable() },
      { answer: 'third time' },
    ]);
    const { timing, sleeps } = manualTiming();
    const llm = new RetryingLlmClient(inner, { maxAttempts: 3 }, timing);

    const answer = await llm.complete(request());

    expect(answer.message.content).toBe('third time');
    expect(inner.calls).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('draws each wait with full jitter inside a doubling window', async () => {
    const inner = new ScriptedLlmClient([
      { error: unavailable() },
      { error: unavailable() },
      { error: unavailable() },
      { answer: 'ok' },
    ]);
    const draws = [0.5, 0.25, 0.999];
    const { timing, sleeps } = manualTiming(0, () => draws.shift() ?? 0);
    const llm = new RetryingLlmClient(inner, { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 }, timing);

    await llm.complete(request());

    // windows 100, 200, then 400 capped at 300
    expect(sleeps).toEqual([Math.floor(0.5 * 100), Math.floor(0.25 * 200), Math.floor(0.999 * 300)]);
  });

  it('waits at least what Retry-After asks', async () => {
    const inner = new ScriptedLlmClient([
      { error: new LlmRateLimitedError('slow down', { retryAfterMs: 1_500 }) },
      { answer: 'ok' },
    ]);
    const { timing, sleeps } = manualTiming();
    const llm = new RetryingLlmClient(inner, { baseDelayMs: 100 }, timing);

    await llm.complete(request());

    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(1_500);
  });

  it('retries an upstream rate limit (a 503 to our callers) only after the upstream Retry-After', async () => {
    const limited = new LlmRateLimitedError('slow down', { retryAfterMs: 2_000 });
    const inner = new ScriptedLlmClient([{ error: limited }, { error: limited }, { answer: 'ok' }]);
    const { timing, sleeps } = manualTiming();
    const llm = new RetryingLlmClient(inner, { maxAttempts: 3, baseDelayMs: 100 }, timing);

    const answer = await llm.complete(request());

    expect(limited.statusCode).toBe(503);
    expect(answer.message.content).toBe('ok');
    expect(sleeps).toHaveLength(2);
    expect(Math.min(...sleeps)).toBeGreaterThanOrEqual(limited.retryAfterMs ?? Number.NaN);
  });

  it('gives up at once when Retry-After would pass the deadline', async () => {
    const limited = new LlmRateLimitedError('slow down', { retryAfterMs: 5_000 });
    const inner = new ScriptedLlmClient([{ error: limited }, { answer: 'too late' }]);
    const { timing, now, sleeps } = manualTiming();
    const llm = new RetryingLlmClient(inner, {}, timing);

    await expect(llm.complete(request(), { deadlineMs: now() + 3_000 })).rejects.toBe(limited);
    expect(inner.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('never retries what retrying cannot fix', async () => {
    for (const error of [
      new LlmBadRequestError('bad tool schema'),
      new LlmAbortedError(),
      new LlmUnavailableError('bad key', { retryable: false }),
      new TypeError('a bug'),
    ]) {
      const inner = new ScriptedLlmClient([{ error }, { answer: 'never' }]);
      const llm = new RetryingLlmClient(inner, {}, manualTiming().timing);
      await expect(llm.complete(request())).rejects.toBe(error);
      expect(inner.calls).toHaveLength(1);
    }
  });

  it('stops after maxAttempts and throws the last error', async () => {
    const last = new LlmTimeoutError('third timeout');
    const inner = new ScriptedLlmClient([
      { error: new LlmTimeoutError('1') },
      { error: new LlmTimeoutError('2') },
      { error: last },
    ]);
    const llm = new RetryingLlmClient(inner, { maxAttempts: 3 }, manualTiming().timing);

    await expect(llm.complete(request())).rejects.toBe(last);
    expect(inner.calls).toHaveLength(3);
  });

  it('retries a stream that failed before yielding', async () => {
    const inner = new ScriptedLlmClient([{ error: unavailable() }, { answer: 'streamed answer' }]);
    const llm = new RetryingLlmClient(inner, {}, manualTiming().timing);

    const deltas = await drain(llm.stream(request()));

    expect(inner.calls).toHaveLength(2);
    expect(
      deltas
        .filter((d) => d.type === 'text')
        .map((d) => (d.type === 'text' ? d.text : ''))
        .join(''),
    ).toBe('streamed answer');
  });

  it('never retries a stream after it has yielded', async () => {
    const cut = unavailable();
    const inner = new ScriptedLlmClient([
      { answer: 'one two three', failAfterDeltas: 1, error: cut },
      { answer: 'again' },
    ]);
    const llm = new RetryingLlmClient(inner, {}, manualTiming().timing);
    const seen: string[] = [];

    await expect(
      (async () => {
        for await (const delta of llm.stream(request())) if (delta.type === 'text') seen.push(delta.text);
      })(),
    ).rejects.toBe(cut);
    expect(seen).toEqual(['one']);
    expect(inner.calls).toHaveLength(1);
  });
});
