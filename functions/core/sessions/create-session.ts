// Use case: create a session on a model and with tools the tenant may use.
import type { TenantRecord } from '../tenants/schemas';
import { assertAllowedTools, resolveModel, type SessionDeps, toSessionResource, unixSeconds } from './model';
import type { CreateSessionRequest, SessionRecord, SessionResource } from './schemas';

/**
 * Checks come first, so a refused request writes nothing.
 *
 * @example
 * const session = await createSession(deps, tenant, { title: 'Support', model: 'gpt-4o-mini' });
 * session.id; // 'ses_01jd...'
 */
export const createSession = async (
  deps: SessionDeps,
  tenant: TenantRecord,
  request: CreateSessionRequest,
): Promise<SessionResource> => {
  const model = resolveModel(tenant, deps.settings, request.model);
  assertAllowedTools(tenant, deps.settings, request.tools);
  const now = unixSeconds(deps.clock.now());
  const session: SessionRecord = {
    id: deps.ids.newId('ses'),
    tenant_id: tenant.id,
    title: request.title ?? null,
    model,
    system_prompt: request.system_prompt ?? null,
    tools: request.tools ?? null,
    metadata: request.metadata ?? {},
    created_at: now,
    updated_at: now,
    last_message_id: null,
  };
  await deps.store.createSession(session);
  return toSessionResource(session);
};
