import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter, toLlmError } from '../../../functions/adapters/openai/openai-llm-client';
import { RateLimitError, UpstreamError } from '../../../functions/core/errors';
import {
  isRetryable,
  isUpstreamFault,
  LlmAbortedError,
  LlmBadRequestError,
  LlmContextTooLongError,
  LlmRateLimitedError,
  LlmTimeoutError,
  LlmUnavailableError,
} from '../../../functions/core/llm/errors';

const NOW = Date.parse('2026-11-21T12:00:00Z');
const httpError = (
  status: number,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) =>
  OpenAI.APIError.generate(
    status,
    { error: { message: `upstream says ${status}`, ...body } },
    undefined,
    new Headers(headers),
  );
const map = (error: unknown) => toLlmError(error, 'openai', undefined, NOW);

describe('toLlmError: every openai error class becomes a domain error', () => {
  it.each([
    ['APIConnectionTimeoutError', new OpenAI.APIConnectionTimeoutError(), LlmTimeoutError, 504, true],
    [
      'APIConnectionError',
      new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }),
      LlmUnavailableError,
      502,
      true,
    ],
    ['APIUserAbortError', new OpenAI.APIUserAbortError(), LlmAbortedError, 504, false],
    ['InternalServerError 500', httpError(500), LlmUnavailableError, 502, true],
    ['InternalServerError 503', httpError(503), LlmUnavailableError, 502, true],
    ['BadRequestError', httpError(400, { param: 'tools[0]' }), LlmBadRequestError, 400, false],
    ['UnprocessableEntityError', httpError(422), LlmBadRequestError, 400, false],
    ['AuthenticationError (our key: 502, not 401)', httpError(401), LlmUnavailableError, 502, false],
    ['PermissionDeniedError', httpError(403), LlmUnavailableError, 502, false],
    ['NotFoundError', httpError(404), LlmUnavailableError, 502, false],
    ['ConflictError', httpError(409), LlmUnavailableError, 502, true],
    ['a broken socket (fetch "terminated")', new TypeError('terminated'), LlmUnavailableError, 502, true],
  ] as const)('%s', (_name, error, type, status, retryable) => {
    const mapped = map(error);
    expect(mapped).toBeInstanceOf(type);
    expect(mapped.statusCode).toBe(status);
    expect(isRetryable(mapped)).toBe(retryable);
    expect(mapped.provider).toBe('openai');
    expect(mapped.cause).toBe(error);
  });

  it('maps an upstream 429 to our 503 (429 is the tenant quota), carrying the wait the provider asked for', () => {
    const mapped = map(httpError(429, {}, { 'retry-after': '7' }));

    expect(mapped).toBeInstanceOf(LlmRateLimitedError);
    expect(mapped).toBeInstanceOf(UpstreamError);
    expect(mapped).not.toBeInstanceOf(RateLimitError);
    expect(mapped).toMatchObject({
      statusCode: 503,
      type: 'upstream_error',
      code: 'llm_rate_limited',
      retryAfterMs: 7_000,
      headers: { 'Retry-After': '7' },
    });
    expect(isRetryable(mapped)).toBe(true);
    expect(mapped.toJSON().error.type).toBe('upstream_error');
  });

  it.each([
    ['no retry-after at all', {}],
    ['retry-after-ms under a second', { 'retry-after-ms': '200' }],
    ['retry-after of zero', { 'retry-after': '0' }],
    ['a retry-after date already past', { 'retry-after': 'Sat, 21 Nov 2026 11:59:00 GMT' }],
  ])('always gives an upstream rate limit a Retry-After of at least one second: %s', (_name, headers) => {
    const mapped = map(httpError(429, {}, headers));

    const seconds = Number(mapped.headers['Retry-After']);

    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(1);
  });

  it('maps an exhausted upstream account quota to a non-retryable 502, not a 429', () => {
    const mapped = map(httpError(429, { code: 'insufficient_quota' }));
    expect(mapped).toBeInstanceOf(LlmUnavailableError);
    expect(isRetryable(mapped)).toBe(false);
    expect(isUpstreamFault(mapped)).toBe(true);
  });

  it('recognizes a context window overflow and keeps the upstream param for other 400s', () => {
    expect(map(httpError(400, { code: 'context_length_exceeded' }))).toBeInstanceOf(LlmContextTooLongError);
    expect(map(httpError(400, { param: 'tools[0].function.parameters' })).param).toBe(
      'tools[0].function.parameters',
    );
  });

  it('says why our own controller stopped the call, whatever the SDK threw', () => {
    expect(toLlmError(new OpenAI.APIUserAbortError(), 'openai', 'timeout', NOW)).toBeInstanceOf(
      LlmTimeoutError,
    );
    expect(toLlmError(new Error('stopped'), 'openai', 'caller', NOW)).toBeInstanceOf(LlmAbortedError);
  });
});

describe('parseRetryAfter', () => {
  it('prefers retry-after-ms, then retry-after in seconds or as a date', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '250.5', 'retry-after': '9' }), NOW)).toBe(251);
    expect(parseRetryAfter(new Headers({ 'retry-after': '2' }), NOW)).toBe(2_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': new Date(NOW + 5_000).toUTCString() }), NOW)).toBe(
      5_000,
    );
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), NOW)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), NOW)).toBeUndefined();
  });
});
