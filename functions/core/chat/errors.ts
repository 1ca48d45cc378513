// Core: the chat module's errors: what a caller got wrong about models, limits and runs.
import { ConflictError, InvalidRequestError, type TenanticErrorOptions } from '../errors';

/**
 * 400 `model_not_found`: the stage offers no model of that name. OpenAI answers 404 here, but its
 * clients then raise NotFoundError, which reads as "wrong URL"; the body's `model` is what is wrong, so a
 * 400 naming `param: model` (BadRequestError) tells the caller what to fix. A model the stage has but the
 * tenant may not use is the sessions module's `ModelNotAllowedError`: also 400, code `model_not_allowed`.
 */
export class ModelNotFoundError extends InvalidRequestError {
  constructor(model: string, allowed: readonly string[], options?: TenanticErrorOptions) {
    super(
      'model_not_found',
      `The model '${model}' does not exist; this tenant may use: ${allowed.join(', ') || 'none'}`,
      { param: 'model', ...options },
    );
  }
}

/** 400: `max_tokens` (or `max_completion_tokens`) above what the model can produce. */
export class MaxTokensTooLargeError extends InvalidRequestError {
  constructor(
    requested: number,
    limit: number,
    model: string,
    param: string,
    options?: TenanticErrorOptions,
  ) {
    super(
      'max_tokens_too_large',
      `${param} is ${requested}, but the model '${model}' produces at most ${limit} completion tokens`,
      { param, ...options },
    );
  }
}

/** 400: a parameter OpenAI has that this API does not serve (n > 1, ...). */
export class UnsupportedParameterError extends InvalidRequestError {
  constructor(param: string, message: string, options?: TenanticErrorOptions) {
    super('unsupported_parameter', message, { param, ...options });
  }
}

/** 409: the run already finished (completed, failed or cancelled) and cannot be cancelled. */
export class RunNotCancellableError extends ConflictError {
  constructor(runId: string, status: string, options?: TenanticErrorOptions) {
    super(
      'run_not_cancellable',
      `Run '${runId}' is already ${status}; only a queued or running run can be cancelled`,
      {
        param: 'id',
        ...options,
      },
    );
  }
}
