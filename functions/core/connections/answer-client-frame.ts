// Use case: answer one client frame on a live connection, if the key behind it is still in good standing.
import type { ConnectionNotifier } from '../ports/connection-notifier';
import type { TenantStore } from '../ports/tenant-store';
import { checkApiKeyStanding } from '../tenants/authenticate-api-key';
import { authFailureError, type InvalidApiKeyError, type TenantSuspendedError } from '../tenants/errors';
import { handleClientFrame } from './handle-client-frame';
import type { ServerFrame } from './schemas';

export interface AnswerClientFrameDeps {
  readonly store: TenantStore;
  readonly notifier: ConnectionNotifier;
}

export interface ClientFrameInput {
  readonly connectionId: string;
  /** The tenant and key the `$connect` authorizer admitted the connection with. */
  readonly tenantId: string;
  readonly keyId: string;
  /** The raw frame, already base64-decoded. */
  readonly body: string | null | undefined;
}

export type ClientFrameOutcome =
  | { readonly answered: ServerFrame }
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
  const answered = handleClientFrame(input.body);
  await deps.notifier.post(input.connectionId, answered);
  return { answered };
};
