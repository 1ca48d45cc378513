// Runtime config: the environment parsed once, at cold start, with zod. A missing or malformed
// variable fails the cold start with its name, instead of failing a request later.
import { z } from 'zod';
import { publishedLimits } from './core/chat/model-limits';
import { describeConfigIssues } from './core/config-issues';
import { ModelIdSchema, type ProviderCatalogue, ProviderCatalogueSchema } from './core/llm/catalogue';
import { PlanNameSchema, PlansSchema } from './core/quotas/schemas';
import { ENV } from './platform/env';

export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

const csv = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()));

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((value, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

const BaseConfigSchema = z.object({
  [ENV.stage]: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  [ENV.logLevel]: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  [ENV.plans]: json(PlansSchema),
  [ENV.defaultPlan]: PlanNameSchema,
  [ENV.llmProviders]: json(ProviderCatalogueSchema),
  [ENV.defaultProvider]: z.string().min(1),
  [ENV.defaultModel]: ModelIdSchema,
  [ENV.corsOrigins]: csv.default([]),
  [ENV.maxBodyBytes]: z.coerce.number().int().positive().default(1_048_576),
  [ENV.s3ForcePathStyle]: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
});

export interface RuntimeConfig {
  readonly stage: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly plans: z.infer<typeof PlansSchema>;
  readonly defaultPlan: string;
  /** Every model of the catalogue: what a tenant may use when its record names none. */
  readonly defaultModels: readonly string[];
  readonly defaultModel: string;
  readonly llm: {
    /** The stage's upstreams and their models. */
    readonly providers: ProviderCatalogue;
    /** The provider OPENAI_API_KEY / OPENAI_BASE_URL configure locally. */
    readonly defaultProvider: string;
  };
  readonly corsOrigins: readonly string[];
  readonly maxBodyBytes: number;
  readonly s3ForcePathStyle: boolean;
}

/**
 * Parses the settings every function shares. Call once, at module scope.
 *
 * @example
 * const config = loadConfig(); // throws ConfigError "TENANTIC_STAGE: ..." when it is missing
 */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): RuntimeConfig => {
  const parsed = BaseConfigSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid environment: ${describeConfigIssues(parsed.error)}`);
  const data = parsed.data;
  const plans = data[ENV.plans];
  // Object.hasOwn, not `in`: `constructor` is `in` every object, yet names no plan.
  if (!Object.hasOwn(plans, data[ENV.defaultPlan])) {
    throw new ConfigError(
      `invalid environment: ${ENV.defaultPlan}: plan '${data[ENV.defaultPlan]}' is not in ${ENV.plans}`,
    );
  }
  const defaultProvider = data[ENV.defaultProvider];
  const declared = data[ENV.llmProviders];
  const home = declared[defaultProvider];
  if (!home || !Object.hasOwn(declared, defaultProvider)) {
    throw new ConfigError(
      `invalid environment: ${ENV.defaultProvider}: provider '${defaultProvider}' is not in ${ENV.llmProviders}`,
    );
  }
  const defaultModel = data[ENV.defaultModel];
  const owner = Object.entries(declared).find(([, provider]) => Object.hasOwn(provider.models, defaultModel));
  // Only a local override gets here (TENANTIC_DEFAULT_MODEL=qwen2.5 npm start): the stage config refuses a
  // default model outside its catalogue. The model joins the provider OPENAI_BASE_URL points at.
  const providers: ProviderCatalogue = owner
    ? declared
    : {
        ...declared,
        [defaultProvider]: {
          ...home,
          models: { ...home.models, [defaultModel]: { ...publishedLimits(defaultModel) } },
        },
      };
  return {
    stage: data[ENV.stage],
    logLevel: data[ENV.logLevel],
    plans,
    defaultPlan: data[ENV.defaultPlan],
    defaultModels: Object.values(providers).flatMap((provider) => Object.keys(provider.models)),
    defaultModel,
    llm: { providers, defaultProvider },
    corsOrigins: data[ENV.corsOrigins],
    maxBodyBytes: data[ENV.maxBodyBytes],
    s3ForcePathStyle: data[ENV.s3ForcePathStyle],
  };
};

/**
 * Reads the named resource variables (table names, queue URLs, ...) a function needs; all or nothing.
 *
 * @example
 * const { TENANTS_TABLE } = requireEnv([ENV.tenantsTable]);
 */
export const requireEnv = <const Names extends readonly string[]>(
  names: Names,
  env: NodeJS.ProcessEnv = process.env,
): { readonly [K in Names[number]]: string } => {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) throw new ConfigError(`missing environment variable(s): ${missing.join(', ')}`);
  return Object.fromEntries(names.map((name) => [name, env[name] as string])) as {
    readonly [K in Names[number]]: string;
  };
};
