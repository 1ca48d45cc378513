// Core: the errors of the WebSocket connections module. Adapters translate SDK failures into these, so
// use cases and handlers never see an AWS type.
import { InternalError, UpstreamError } from '../errors';

/**
 * The client behind a connection id is gone (its socket closed or API Gateway dropped it). Expected
 * flow, not a failure: stop writing to it and forget the connection.
 */
export class ConnectionGoneError extends Error {
  readonly connectionId: string;
  constructor(connectionId: string, options?: ErrorOptions) {
    super(`connection ${connectionId} is gone`, options);
    this.name = 'ConnectionGoneError';
    this.connectionId = connectionId;
  }
}

/** Posting to a connection kept being throttled; the caller may try again later. */
export class ConnectionThrottledError extends UpstreamError {
  readonly retryable = true;
  constructor(message: string, options?: ErrorOptions) {
    super('connection_throttled', message, { ...options, statusCode: 503 });
  }
}

/** The connection store is throttled or unreachable for now; retrying later may succeed. */
export class ConnectionStoreUnavailableError extends UpstreamError {
  readonly retryable = true;
  constructor(message: string, options?: ErrorOptions) {
    super('connection_store_unavailable', message, { ...options, statusCode: 503 });
  }
}

/** The connection store rejected a call for a reason retrying cannot fix (a bug or a misconfiguration). */
export class ConnectionStoreFailureError extends InternalError {
  constructor(message: string, options?: ErrorOptions) {
    super('connection_store_failure', message, options);
  }
}

/** A server frame could not be made to fit the WebSocket frame limit: the caller must split it. */
export class FrameTooLargeError extends InternalError {
  constructor(message: string, options?: ErrorOptions) {
    super('frame_too_large', message, options);
  }
}
