// Use case helper: what every step of a run offers the model (limits, max_tokens, tools), shared by the
// agent loop and the async path of send-message.
import { allowedTools } from '../sessions/model';
import type { SessionRecord } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import type { ChatDeps } from './model';
import { DEFAULT_STEP_MAX_TOKENS, modelLimits } from './model-limits';

/**
 * What every step of a run offers the model: its limits, `max_tokens`, and the tools the tenant may use
 * among the session's. Shared with the async path of send-message, which reserves the first step's
 * tokens before the run is queued.
 *
 * @example
 * const { tools, maxTokens } = stepPlan(deps, tenant, session, session.model);
 */
export const stepPlan = (deps: ChatDeps, tenant: TenantRecord, session: SessionRecord, model: string) => {
  const limits = modelLimits(model);
  const allowed = new Set(allowedTools(tenant, deps.settings));
  const toolNames = (session.tools ?? [...allowed]).filter(
    (name) => allowed.has(name) && deps.tools.get(name) !== undefined,
  );
  return {
    limits,
    maxTokens: Math.min(DEFAULT_STEP_MAX_TOKENS, limits.maxOutputTokens),
    offered: new Set(toolNames),
    tools: toolNames.length > 0 ? deps.tools.toLlmTools(toolNames) : undefined,
  };
};

export type StepPlan = ReturnType<typeof stepPlan>;
