// Core: the error hierarchy every module extends. Errors that reach HTTP carry their status, an
// OpenAI-style `type`/`code`/`param`, and render as the envelope of shared/API.md via toJSON().

/** The `type` of an error envelope, as OpenAI names them (a list, so stored envelopes can be checked). */
export const ERROR_TYPES = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'conflict_error',
  'rate_limit_error',
  'upstream_error',
  'api_error',
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export interface ErrorEnvelope {
  error: { type: ErrorType; code: string; message: string; param: string | null };
}

export interface TenanticErrorOptions extends ErrorOptions {
  /** Dotted path of the offending input, e.g. `messages[0].role`. */
  param?: string;
  /** Extra response headers (Retry-After, x-ratelimit-*). */
  headers?: Record<string, string>;
}

/** Base class: never thrown directly; pick the subclass that says what went wrong. */
export abstract class TenanticError extends Error {
  abstract readonly statusCode: number;
  abstract readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /** Whether the message may be shown to the caller (false for bugs: a generic text is sent). */
  readonly expose: boolean = true;

  constructor(code: string, message: string, options: TenanticErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toJSON(): ErrorEnvelope {
    return {
      error: {
        type: this.type,
        code: this.code,
        message: this.expose ? this.message : 'The server had an error while processing your request.',
        param: this.param,
      },
    };
  }
}

/** 400: the input is malformed or breaks a rule. */
export class InvalidRequestError extends TenanticError {
  readonly statusCode = 400;
  readonly type = 'invalid_request_error' as const;
}

/** 401: no valid credentials. */
export class AuthenticationError extends TenanticError {
  readonly statusCode = 401;
  readonly type = 'authentication_error' as const;
}

/** 403: valid credentials, but not for this route. */
export class PermissionDeniedError extends TenanticError {
  readonly statusCode = 403;
  readonly type = 'permission_error' as const;
}

/** 404: unknown route or resource, or one owned by another tenant (never reveal that it exists). */
export class NotFoundError extends TenanticError {
  readonly statusCode = 404;
  readonly type = 'not_found_error' as const;
}

/** 409: the request conflicts with the current state. */
export class ConflictError extends TenanticError {
  readonly statusCode = 409;
  readonly type = 'conflict_error' as const;
}

/** 413: the body is larger than the route accepts. */
export class PayloadTooLargeError extends TenanticError {
  readonly statusCode = 413;
  readonly type = 'invalid_request_error' as const;
}

/** 415: the body is not JSON. */
export class UnsupportedMediaTypeError extends TenanticError {
  readonly statusCode = 415;
  readonly type = 'invalid_request_error' as const;
}

/** 429: rate limited or a quota exhausted; carries Retry-After and x-ratelimit-* headers. */
export class RateLimitError extends TenanticError {
  readonly statusCode = 429;
  readonly type = 'rate_limit_error' as const;
}

/** 502/503/504: an upstream (LLM, tool, AWS service) failed; never used for bad input. */
export class UpstreamError extends TenanticError {
  readonly type = 'upstream_error' as const;
  readonly statusCode: 502 | 503 | 504;
  constructor(
    code: string,
    message: string,
    options: TenanticErrorOptions & { statusCode?: 502 | 503 | 504 } = {},
  ) {
    super(code, message, options);
    this.statusCode = options.statusCode ?? 502;
  }
}

/** 500: a bug. The message is logged, never sent. */
export class InternalError extends TenanticError {
  readonly statusCode = 500;
  readonly type = 'api_error' as const;
  override readonly expose = false;
}

/**
 * 500 `corrupt_record`: a stored record does not fit its schema (a writer's bug, a hand edit, a half-done
 * migration). Never the caller's fault, and never passed on as a typed record. The message names the table
 * and the key (no secrets: a hash in a key is shortened) and is logged, never sent.
 */
export class CorruptRecordError extends InternalError {
  constructor(message: string, options?: ErrorOptions) {
    super('corrupt_record', message, options);
  }
}

export const isTenanticError = (error: unknown): error is TenanticError => error instanceof TenanticError;
