// Use case: answer one client frame on a live connection, if the key behind it is still in good standing.
import { isTenanticError } from '../errors';
import type { ConnectionNotifier } from '../ports/connection-notifier';
import type { TenantStore } from '../ports/tenant-store';
import { checkApiKeyStanding } from '../tenants/authenticate-api-key';
import { authFailureError, type InvalidApiKeyError, type TenantSuspendedError } from '../tenants/errors';
import type { TenantRecord } from '../tenants/schemas';
import { errorFrame } from './frames';
import { handleClientFrame, parseClientFrame } from './handle-client-frame';
import type { CancelFrame, ChatFrame, ResumeFrame, ServerFrame } from './schemas';

/** The run actions (core/streaming/run-actions.ts); each posts its own frames to the caller. */
export interface RunActionHandlers {
  chat(tenant: TenantRecord, connectionId: string, frame: ChatFrame): Promise<void>;
  resume(tenant: TenantRecord, connectionId: string, frame: ResumeFrame): Promise<void>;
  cancel(tenant: TenantRecord, connectionId: string, frame: CancelFrame): Promise<void>;
}

export interface AnswerClientFrameDeps {
  readonly store: TenantStore;
  readonly notifier: ConnectionNotifier;
  /** Absent: `chat`, `cancel` and `resume` are answered `not_implemented`. */
  readonly runs?: RunActionHandlers;
}

export interface ClientFrameInput {
  readonly connectionId: string;
  /** The tenant and key the `$connect` authorizer admitted the connection with. */
  readonly tenantId: string;
  readonly keyId: string;
  /** The raw frame, already base64-decoded. */
  readonly body: string | null | undefined;
}

type ClientFrameAction = 'chat' | 'resume' | 'cancel';

export type ClientFrameOutcome =
  | { readonly answered: ServerFrame }
  /** A run action: it posted its own frames (`run.started`, a replay, …), or `answered` its refusal. */
  | { readonly action: ClientFrameAction }
  /** 401 (revoked or unknown key) or 403 (suspended tenant): told to the client, then the socket closed. */
  | { readonly refused: InvalidApiKeyError | TenantSuspendedError };

/**
 * A WebSocket is authorized once, at `$connect`, and may live 2 hours; so the key's standing is checked
 * again on every frame (the same check the HTTP routes run per request). A revoked key or a suspended
 * tenant gets one error frame in the envelope (`authentication_error`/`invalid_api_key` or
 * `permission_error`/`tenant_suspended`), then the server closes the connection. Otherwise the frame is
 * answered as `handleClientFrame` says.
 * Throws what the notifier throws (ConnectionGoneError when the client left meanwhile).
 *
 * @example
 * const outcome = await answerClientFrame({ store, notifier }, { connectionId, tenantId, keyId, body });
 * if ('refused' in outcome) log.warn('closed', { code: outcome.refused.code });
 */
export const answerClientFrame = async (
  deps: AnswerClientFrameDeps,
  input: ClientFrameInput,
): Promise<ClientFrameOutcome> => {
  const standing = await checkApiKeyStanding(deps.store, input.tenantId, input.keyId);
  if (!standing.ok) {
    const refused = authFailureError(standing.reason);
    await deps.notifier.post(input.connectionId, { type: 'error', ...refused.toJSON() });
    await deps.notifier.disconnect(input.connectionId);
    return { refused };
  }
  const parsed = parseClientFrame(input.body);
  const runs = deps.runs;
  if (!runs || 'reply' in parsed || parsed.frame.action === 'ping') {
    const answered = handleClientFrame(input.body);
    await deps.notifier.post(input.connectionId, answered);
    return { answered };
  }
  const frame = parsed.frame;
  try {
    if (frame.action === 'chat') await runs.chat(standing.tenant, input.connectionId, frame);
    else if (frame.action === 'resume') await runs.resume(standing.tenant, input.connectionId, frame);
    else await runs.cancel(standing.tenant, input.connectionId, frame);
    return { action: frame.action };
  } catch (error) {
    // A refusal (404, 409, 429) or a failure: the client gets the envelope and the socket lives. A bug is
    // thrown on after that, so it is logged as one.
    const answered: ServerFrame = isTenanticError(error)
      ? { type: 'error', ...error.toJSON() }
      : errorFrame({
          type: 'api_error',
          code: 'internal_error',
          message: 'The server failed to handle the frame',
        });
    await deps.notifier.post(input.connectionId, answered);
    if (!isTenanticError(error) || error.statusCode === 500) throw error;
    return { answered };
  }
};
