// Core: the errors of the tenants module; each knows its HTTP status and envelope.
import {
  AuthenticationError,
  ConflictError,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
} from '../errors';

export class TenantNotFoundError extends NotFoundError {
  constructor(tenantId: string, options?: ErrorOptions) {
    super('tenant_not_found', `No tenant with id '${tenantId}'`, { ...options, param: 'id' });
  }
}

export class ApiKeyNotFoundError extends NotFoundError {
  constructor(keyId: string, options?: ErrorOptions) {
    super('api_key_not_found', `No API key with id '${keyId}' on this tenant`, {
      ...options,
      param: 'keyId',
    });
  }
}

export class UnknownPlanError extends InvalidRequestError {
  constructor(plan: string, known: readonly string[], options?: ErrorOptions) {
    super('unknown_plan', `Unknown plan '${plan}'; this stage offers: ${known.join(', ')}`, {
      ...options,
      param: 'plan',
    });
  }
}

export class UnknownModelError extends InvalidRequestError {
  /** `param`: where the model was named (`models[2]`, `default_model`). */
  constructor(model: string, param: string, allowed: readonly string[], options?: ErrorOptions) {
    super('unknown_model', `Unknown model '${model}'; this stage allows: ${allowed.join(', ')}`, {
      ...options,
      param,
    });
  }
}

/**
 * 400 `model_not_allowed`: the tenant's default model must be one of its own models. `param` says which
 * field of the request broke that: `default_model`, or `models` when the new list leaves the default out.
 */
export class DefaultModelNotAllowedError extends InvalidRequestError {
  constructor(
    defaultModel: string,
    allowed: readonly string[],
    param: 'default_model' | 'models',
    options?: ErrorOptions,
  ) {
    const message =
      param === 'default_model'
        ? `default_model '${defaultModel}' is not one of the tenant's models (${allowed.join(', ') || 'none'}); ` +
          'add it to models too, or choose one of them'
        : `models leaves out the tenant's default_model '${defaultModel}'; change default_model in the same ` +
          'request (null means the stage default)';
    super('model_not_allowed', message, { ...options, param });
  }
}

/** Two writes raced for the same id or key hash; retrying succeeds. */
export class TenantConflictError extends ConflictError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', message, options);
  }
}

/** Why a request carries no usable tenant or admin credentials. */
export type AuthFailure =
  | 'missing_api_key'
  | 'malformed_api_key'
  | 'unknown_api_key'
  | 'revoked_api_key'
  | 'tenant_suspended';

const AUTH_MESSAGES: Record<Exclude<AuthFailure, 'tenant_suspended'>, string> = {
  missing_api_key: 'No API key provided. Send it as `Authorization: Bearer <key>`.',
  malformed_api_key: 'The API key is malformed.',
  unknown_api_key: 'Incorrect API key provided.',
  revoked_api_key: 'This API key has been revoked.',
};

/** 401 `invalid_api_key`, the code OpenAI clients recognise; the message says which case it is. */
export class InvalidApiKeyError extends AuthenticationError {
  readonly reason: AuthFailure;
  constructor(reason: Exclude<AuthFailure, 'tenant_suspended'>, options?: ErrorOptions) {
    super('invalid_api_key', AUTH_MESSAGES[reason], options);
    this.reason = reason;
  }
}

/** 403: the key is valid but its tenant is suspended. */
export class TenantSuspendedError extends PermissionDeniedError {
  constructor(options?: ErrorOptions) {
    super('tenant_suspended', 'This tenant is suspended.', options);
  }
}

/** The error a failed authentication answers with. */
export const authFailureError = (reason: AuthFailure): InvalidApiKeyError | TenantSuspendedError =>
  reason === 'tenant_suspended' ? new TenantSuspendedError() : new InvalidApiKeyError(reason);

export const isAuthFailure = (value: string): value is AuthFailure =>
  ['missing_api_key', 'malformed_api_key', 'unknown_api_key', 'revoked_api_key', 'tenant_suspended'].includes(
    value,
  );
