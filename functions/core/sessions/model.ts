// Core: what the session use cases need, the tenant's allowances, and how records render as resources.
import { toSessionContextResource } from '../chat/session-window';
import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/id-generator';
import type { PlatformMetrics } from '../ports/platform-metrics';
import type { SessionStore } from '../ports/session-store';
import { effectiveModels, type TenantSettings } from '../tenants/model';
import type { TenantRecord } from '../tenants/schemas';
import { ModelNotAllowedError, ToolNotAllowedError } from './errors';
import type {
  MessageRecord,
  MessageResource,
  RunRecord,
  RunResource,
  RunStep,
  SessionRecord,
  SessionResource,
  Usage,
} from './schemas';

/** What a stage lets sessions use; from the runtime config. */
export interface SessionSettings {
  readonly tenants: TenantSettings;
  /** The stage's default model: a session gets it when neither it nor its tenant names one. */
  readonly defaultModel: string;
  /** The tools a tenant may use when its record names none. */
  readonly defaultTools: readonly string[];
}

/** What the session use cases need. */
export interface SessionDeps {
  readonly store: SessionStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly settings: SessionSettings;
  /** Told when a run reaches a final status (default: nothing counted). */
  readonly metrics?: PlatformMetrics;
}

export const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/**
 * A run's usage: the sum of its steps'.
 *
 * @example
 * sumUsage(run.steps).total_tokens;
 */
export const sumUsage = (steps: readonly RunStep[]): Usage =>
  steps.reduce(
    (total, step) => ({
      prompt_tokens: total.prompt_tokens + step.usage.prompt_tokens,
      completion_tokens: total.completion_tokens + step.usage.completion_tokens,
      total_tokens: total.total_tokens + step.usage.total_tokens,
    }),
    { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  );

/**
 * A new run of a session on `model`, with no steps yet: `queued`, or `in_progress` from `now` when it
 * starts at once (inline, so it needs no separate transition write).
 *
 * @example
 * const run = newRunRecord({ id: ids.newId('run'), tenantId, sessionId, model, status: 'queued', now });
 */
export const newRunRecord = (input: {
  readonly id: string;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly model: string;
  readonly status: 'queued' | 'in_progress';
  readonly now: number;
}): RunRecord => ({
  id: input.id,
  tenant_id: input.tenantId,
  session_id: input.sessionId,
  status: input.status,
  model: input.model,
  steps: [],
  usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  error: null,
  created_at: input.now,
  updated_at: input.now,
  started_at: input.status === 'in_progress' ? input.now : null,
  completed_at: null,
});

/** The tools a tenant may use: its own list, or the stage's. */
export const allowedTools = (tenant: TenantRecord, settings: SessionSettings): readonly string[] =>
  tenant.tools ?? settings.defaultTools;

/**
 * The model a request runs on: the one asked for, if the tenant may use it; else the tenant's default
 * model, else the stage's, else the tenant's first model (a default the tenant may no longer use is
 * skipped, never an error).
 *
 * @example
 * resolveModel(tenant, settings, undefined); // tenant.default_model ?? settings.defaultModel, when allowed
 */
export const resolveModel = (
  tenant: TenantRecord,
  settings: SessionSettings,
  requested: string | undefined,
): string => {
  const allowed = effectiveModels(tenant, settings.tenants);
  if (requested !== undefined) {
    if (!allowed.includes(requested)) throw new ModelNotAllowedError(requested, allowed);
    return requested;
  }
  const candidates = [tenant.default_model, settings.defaultModel, allowed[0]];
  const chosen = candidates.find(
    (model): model is string => typeof model === 'string' && allowed.includes(model),
  );
  if (chosen === undefined) throw new ModelNotAllowedError(settings.defaultModel, allowed);
  return chosen;
};

export const assertAllowedTools = (
  tenant: TenantRecord,
  settings: SessionSettings,
  tools: readonly string[] | undefined,
): void => {
  const allowed = allowedTools(tenant, settings);
  tools?.forEach((tool, index) => {
    if (!allowed.includes(tool)) throw new ToolNotAllowedError(tool, index, allowed);
  });
};

export const toSessionResource = (session: SessionRecord): SessionResource => ({
  id: session.id,
  object: 'session',
  title: session.title,
  model: session.model,
  system_prompt: session.system_prompt,
  tools: session.tools,
  metadata: session.metadata,
  created_at: session.created_at,
  updated_at: session.updated_at,
  context: toSessionContextResource(session),
});

export const toMessageResource = (message: MessageRecord): MessageResource => ({
  id: message.id,
  object: 'message',
  session_id: message.session_id,
  role: message.role,
  content: message.content,
  ...(message.tool_calls && { tool_calls: message.tool_calls }),
  ...(message.tool_call_id !== undefined && { tool_call_id: message.tool_call_id }),
  ...(message.run_id !== undefined && { run_id: message.run_id }),
  created_at: message.created_at,
});

export const toRunResource = (run: RunRecord): RunResource => ({
  id: run.id,
  object: 'run',
  session_id: run.session_id,
  status: run.status,
  model: run.model,
  steps: run.steps.map(({ reservation: _internal, ...step }) => step),
  usage: run.usage,
  error: run.error,
  created_at: run.created_at,
  updated_at: run.updated_at,
  started_at: run.started_at,
  completed_at: run.completed_at,
});
