// Middleware: the single place where errors become the envelope of shared/API.md. Domain errors
// keep their status and headers; anything else is a bug: logged with its stack, 500. A quota's 429 is
// counted (QuotaRefusals, by kind).
import { InternalError, isTenanticError, type TenanticError, UpstreamError } from '../core/errors';
import type { PlatformMetrics } from '../core/ports/platform-metrics';
import { QuotaExceededError } from '../core/quotas/errors';
import { createLogger, type Logger } from '../observability/logger';
import { platformMetrics } from '../observability/powertools-metrics';
import { jsonResponse } from './responses';
import type { HttpMiddleware, HttpRequest } from './types';

export interface ErrorHandlerOptions {
  /** Used only if requestContext did not run (it binds a request-scoped logger). */
  logger?: Logger;
  /** Default: the function's Powertools metrics. */
  metrics?: PlatformMetrics;
}

const defaults: Required<Pick<ErrorHandlerOptions, 'logger'>> = { logger: createLogger() };

const toTenanticError = (error: unknown): TenanticError => {
  if (isTenanticError(error)) return error;
  // A ZodError is deliberately not special-cased: validate.ts turns client input into 400s itself, so a
  // ZodError that gets here came from our own code parsing our own data (a stored record, an upstream
  // reply). Blaming the request body would hide the bug and mislead the client.
  // middy aborts a handler just before the Lambda timeout: a slow dependency, not a bug.
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new UpstreamError('timeout', 'The request took too long; retry.', {
      statusCode: 504,
      cause: error,
    });
  }
  return new InternalError('internal_error', 'Unhandled error', { cause: error });
};

export const errorHandler = (options: ErrorHandlerOptions = {}): HttpMiddleware => {
  const { logger, metrics } = { ...defaults, ...options };

  const errorHandlerOnError = (request: HttpRequest) => {
    if (request.response !== undefined) return;
    const error = toTenanticError(request.error);
    const log = request.internal.http?.log ?? logger;
    if (request.error instanceof QuotaExceededError) {
      const principal = request.internal.http?.principal;
      (metrics ?? platformMetrics()).quotaRefused({
        kind: request.error.quota,
        tenantId: principal?.principal === 'tenant' ? principal.tenantId : undefined,
      });
    }
    if (error.statusCode >= 500) {
      log.error(error.expose ? error.message : 'unhandled error', { error: request.error, code: error.code });
    } else {
      log.info('request refused', { status: error.statusCode, code: error.code, param: error.param });
    }
    const headers = { ...request.internal.http?.responseHeaders, ...error.headers };
    request.response = jsonResponse(error.statusCode, error.toJSON(), headers);
  };

  return { onError: errorHandlerOnError };
};
