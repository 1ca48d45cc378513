// Handlers' wiring: the runtime config, parsed once per cold start, and the settings the use cases take
// from it. Every function that reads the stage's config imports this; it holds no SDK client.
import { loadConfig, type RuntimeConfig } from '../../config';
import { declareModelLimits } from '../../core/chat/model-limits';
import { ModelCatalogue } from '../../core/llm/catalogue';
import type { SessionSettings } from '../../core/sessions/model';
import type { TenantSettings } from '../../core/tenants/model';
import { createBuiltinToolRegistry } from '../../core/tools/builtin';

let config: RuntimeConfig | undefined;

/** The tools a tenant may use when its record names none: the built-ins (calculator, current_time). */
export const BUILTIN_TOOLS: readonly string[] = createBuiltinToolRegistry().names();

export const runtimeConfig = (): RuntimeConfig => {
  if (!config) {
    config = loadConfig();
    // Context budgets, max_tokens checks and reservations then use the limits the stage declares.
    declareModelLimits(config.llm.providers);
  }
  return config;
};

export const tenantSettings = (from: RuntimeConfig = runtimeConfig()): TenantSettings => ({
  stage: from.stage,
  plans: from.plans,
  defaultPlan: from.defaultPlan,
  allowedModels: from.defaultModels,
  modelOwners: new ModelCatalogue(from.llm.providers).owners(),
});

export const sessionSettings = (from: RuntimeConfig = runtimeConfig()): SessionSettings => ({
  tenants: tenantSettings(from),
  defaultModel: from.defaultModel,
  defaultTools: BUILTIN_TOOLS,
});
