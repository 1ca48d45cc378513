// Core: the errors of the sessions module; each knows its HTTP status and envelope.
import { ConflictError, InternalError, InvalidRequestError, NotFoundError } from '../errors';
import type { RunStatus } from './schemas';

/** 404 for an unknown session and for another tenant's: the two must look the same. */
export class SessionNotFoundError extends NotFoundError {
  constructor(sessionId: string, options?: ErrorOptions) {
    super('session_not_found', `No session with id '${sessionId}'`, { ...options, param: 'id' });
  }
}

export class RunNotFoundError extends NotFoundError {
  constructor(runId: string, options?: ErrorOptions) {
    super('run_not_found', `No run with id '${runId}'`, { ...options, param: 'id' });
  }
}

export class ModelNotAllowedError extends InvalidRequestError {
  constructor(model: string, allowed: readonly string[], options?: ErrorOptions) {
    super(
      'model_not_allowed',
      `The model '${model}' does not exist or this tenant may not use it; allowed: ${allowed.join(', ') || 'none'}`,
      { ...options, param: 'model' },
    );
  }
}

export class ToolNotAllowedError extends InvalidRequestError {
  constructor(tool: string, index: number, allowed: readonly string[], options?: ErrorOptions) {
    super(
      'tool_not_allowed',
      `The tool '${tool}' does not exist or this tenant may not use it; allowed: ${allowed.join(', ') || 'none'}`,
      { ...options, param: `tools[${index}]` },
    );
  }
}

/** 409: the run is not in a state this change may leave from (e.g. completing a completed run). */
export class RunStateConflictError extends ConflictError {
  readonly current: RunStatus;
  readonly wanted: RunStatus;
  constructor(runId: string, current: RunStatus, wanted: RunStatus, options?: ErrorOptions) {
    super('run_state_conflict', `Run '${runId}' is ${current}; it cannot become ${wanted}`, {
      ...options,
      param: 'status',
    });
    this.current = current;
    this.wanted = wanted;
  }
}

/** 409: other writers kept appending to the session; retrying succeeds. */
export class SessionBusyError extends ConflictError {
  constructor(sessionId: string, options?: ErrorOptions) {
    super('session_busy', `Session '${sessionId}' is being written by another request; retry`, options);
  }
}

/** 400: an append with no messages, or more than one atomic write can hold. */
export class InvalidAppendError extends InvalidRequestError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid_append', message, { ...options, param: 'messages' });
  }
}

/** 500: an offloaded message body is gone from the bucket; a bug or lost data, never the caller's fault. */
export class MessageContentMissingError extends InternalError {
  constructor(messageId: string, options?: ErrorOptions) {
    super('message_content_missing', `The stored content of message '${messageId}' is missing`, options);
  }
}
