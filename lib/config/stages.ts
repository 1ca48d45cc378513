// CDK config: one StageConfig per stage, built from defaults and config/stages/<stage>.json, checked with zod.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { publishedLimits } from '../../functions/core/chat/model-limits';
import { describeConfigIssues } from '../../functions/core/config-issues';
import {
  BaseUrlSchema,
  checkFallbacks,
  checkModelsUnique,
  FallbacksSchema,
  ModelIdSchema,
  ProviderNameSchema,
  type ProviderSpec,
} from '../../functions/core/llm/catalogue';
import { PlanNameSchema, PlansSchema } from '../../functions/core/quotas/schemas';
import { FUNCTIONS, type FunctionDefinition } from '../../functions/platform/functions';

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const STAGE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

/**
 * The largest request body a stage may accept. API Gateway invokes the function synchronously, and a
 * synchronous Lambda invoke carries at most 6 MB, event envelope included; a base64-encoded body also
 * grows by a third. 5 MiB leaves room for the envelope; anything larger would fail in Lambda with a 413
 * outside our error envelope instead of in json-body with ours.
 */
const MAX_BODY_BYTES_LIMIT = 5 * 1024 * 1024;

const int = (min: number, max: number) =>
  z.number().int('must be an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);

/**
 * The catalogue travels to every function as one environment variable, and Lambda allows 4 KB of
 * environment in all (names, values, the plans and the resource names included).
 */
const MAX_CATALOGUE_JSON_BYTES = 2048;

const tokens = z.number().int('must be an integer').positive('must be > 0');

/**
 * A model of a provider: the limits are optional for models with published limits (model-limits.ts),
 * and are filled in from there, so the synthesized environment states every model's limits. `fallbacks`
 * names the catalogue models to try, in order, when this one's provider fails.
 */
const StageModelSchema = z
  .object({
    contextTokens: tokens.optional(),
    maxOutputTokens: tokens.optional(),
    fallbacks: FallbacksSchema.optional(),
  })
  .strict();

const StageProviderSchema = z
  .object({
    baseUrl: BaseUrlSchema.optional(),
    maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
    models: z
      .record(ModelIdSchema, StageModelSchema)
      .refine((models) => Object.keys(models).length > 0, 'must name at least one model'),
  })
  .strict()
  .transform((provider, ctx): ProviderSpec => {
    const models: ProviderSpec['models'] = {};
    for (const [model, stated] of Object.entries(provider.models)) {
      const published = publishedLimits(model);
      const spec = {
        contextTokens: stated.contextTokens ?? published.contextTokens,
        maxOutputTokens: stated.maxOutputTokens ?? published.maxOutputTokens,
        // An empty list says nothing: it stays out of the (size-limited) environment.
        ...(stated.fallbacks?.length ? { fallbacks: stated.fallbacks } : {}),
      };
      if (spec.maxOutputTokens > spec.contextTokens) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', model, 'maxOutputTokens'],
          message: `must not exceed contextTokens (${spec.contextTokens})`,
        });
      }
      models[model] = spec;
    }
    return { ...provider, models };
  });

/** The catalogue functions that call an LLM: each has its own LLM latency threshold. */
const LLM_FUNCTION_IDS = (Object.entries(FUNCTIONS) as [string, FunctionDefinition][])
  .filter(([, definition]) => definition.llm === true)
  .map(([id]) => id);

const fraction = z.number().gt(0, 'must be > 0').max(1, 'must be <= 1 (a fraction, not a percentage)');

/**
 * What pages, per stage (docs/operations-alarms.md). Rates are fractions over 5-minute periods; a rate is
 * judged only from a minimum traffic on, so one failure among two requests at 3 a.m. pages nobody.
 */
const AlarmThresholdsSchema = z
  .object({
    /** HTTP 5xx per request, and WebSocket execution errors per route invocation. */
    apiErrorRate: fraction,
    /** Requests (or WebSocket route invocations) per 5 minutes below which an API's error rate is not judged. */
    apiMinRequests: int(1, 1_000_000),
    /** p99 Duration above this share of the function's own timeout (functions/platform/functions.ts). */
    durationP99OfTimeout: fraction,
    /** DegradedAnswers per LlmAnswers of one LLM function. */
    degradedAnswerRate: fraction,
    /** LLM answers per 5 minutes below which the degraded rate is not judged. */
    llmMinAnswers: int(1, 1_000_000),
    /**
     * p99 of LlmLatency (one call, request to last token) in milliseconds, per LLM function: their calls
     * have different deadlines. Every LLM function needs one, so a new one cannot go unwatched.
     */
    llmLatencyP99Ms: z
      .object(Object.fromEntries(LLM_FUNCTION_IDS.map((id) => [id, int(100, 900_000)])))
      .strict(),
  })
  .strict();

const LEGACY_LLM_FIELD = 'moved: declare each upstream under llm.providers.<name> ({ baseUrl?, models })';

const StageConfigSchema = z
  .object({
    stage: z.string().regex(STAGE_NAME_PATTERN, `must match ${STAGE_NAME_PATTERN.source}`),
    tenancy: z.enum(['pooled', 'single']),
    /** For a single-tenant stage: the tenant it serves (informational; tagged on every resource). */
    tenant: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits or hyphens')
      .optional(),
    logRetentionDays: z.number().refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')} (the values CloudWatch Logs accepts)`,
    }),
    removalPolicy: z.enum(['destroy', 'retain']),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']),
    /**
     * The share of invocations (0..1) whose logs are written at debug level whatever `logLevel` says
     * (Powertools Logger's sampling), so a stage at `info` still shows a few requests in full.
     */
    logSampleRate: z.number().min(0, 'must be >= 0').max(1, 'must be <= 1'),
    /**
     * How long a warm function keeps a secret it read (an LLM provider's key, the admin key) before it
     * reads it again: a rotated key reaches every function within this many seconds.
     */
    secretsMaxAgeSeconds: int(1, 3600),
    llm: z
      .object({
        /** The model a tenant gets when neither it nor its request names one. */
        defaultModel: z.string().min(1, 'must not be empty'),
        /** Named upstreams; a model id belongs to exactly one of them. Keys live in Secrets Manager. */
        providers: z
          .record(ProviderNameSchema, StageProviderSchema)
          .refine((providers) => Object.keys(providers).length > 0, 'must declare at least one provider')
          .superRefine((providers, ctx) => {
            checkModelsUnique(providers, ctx);
            checkFallbacks(providers, ctx);
            // CloudFormation ids (the key secrets, their outputs) keep only letters and digits.
            const seen = new Map<string, string>();
            for (const name of Object.keys(providers)) {
              const first = seen.get(name.replaceAll('-', ''));
              if (first !== undefined) {
                ctx.addIssue({
                  code: 'custom',
                  path: [name],
                  message: `reads as '${first}' once hyphens are dropped (as CloudFormation ids drop them)`,
                });
              }
              seen.set(name.replaceAll('-', ''), name);
            }
          }),
        baseUrl: z.undefined({ error: LEGACY_LLM_FIELD }).optional(),
        models: z.undefined({ error: LEGACY_LLM_FIELD }).optional(),
      })
      .strict(),
    plans: PlansSchema.refine((plans) => Object.keys(plans).length > 0, 'must define at least one plan'),
    defaultPlan: PlanNameSchema,
    corsOrigins: z.array(
      z
        .string()
        .refine(
          (origin) => origin === '*' || /^https?:\/\/[^/\s]+$/.test(origin),
          'must be an origin (scheme://host[:port])',
        ),
    ),
    alarmEmail: z.email('must be an email address').optional(),
    alarms: AlarmThresholdsSchema,
    queues: z
      .object({
        maxReceiveCount: int(1, 1000),
        retentionDays: int(1, 14),
        dlqRetentionDays: int(1, 14),
      })
      .strict(),
    authorizerCacheTtlSeconds: int(0, 3600),
    /**
     * Create the role API Gateway writes WebSocket access logs with, and set it as the region's
     * API Gateway account setting (AWS::ApiGateway::Account). That setting is ONE per account and region,
     * shared by every API there: turn this off for a stage deployed where the account already has a
     * CloudWatch role (another stage, or one set up by hand), or the last stage deployed wins.
     */
    apiGatewayAccountLogsRole: z.boolean(),
    maxBodyBytes: z
      .number()
      .int('must be an integer')
      .min(1, 'must be >= 1')
      .max(
        MAX_BODY_BYTES_LIMIT,
        `must be <= ${MAX_BODY_BYTES_LIMIT} (5 MiB): API Gateway invokes Lambda synchronously, and a ` +
          'synchronous invoke carries at most 6 MB including the event envelope',
      ),
  })
  .strict()
  .superRefine((config, ctx) => {
    // Object.hasOwn, not `in`: `constructor` or `toString` are `in` every object, yet name no plan.
    if (!Object.hasOwn(config.plans, config.defaultPlan)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultPlan'],
        message: `must be one of the plans (${Object.keys(config.plans).join(', ')})`,
      });
    }
    const models = Object.values(config.llm.providers).flatMap((provider) => Object.keys(provider.models));
    if (!models.includes(config.llm.defaultModel)) {
      ctx.addIssue({
        code: 'custom',
        path: ['llm', 'defaultModel'],
        message: `must be one of the models of llm.providers (${models.join(', ')})`,
      });
    }
    const catalogueBytes = Buffer.byteLength(JSON.stringify(config.llm.providers));
    if (catalogueBytes > MAX_CATALOGUE_JSON_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['llm', 'providers'],
        message:
          `is ${catalogueBytes} bytes as JSON, above ${MAX_CATALOGUE_JSON_BYTES}: every function receives it ` +
          'in its environment, and Lambda allows 4 KB of environment in all',
      });
    }
    if (config.queues.dlqRetentionDays <= config.queues.retentionDays) {
      ctx.addIssue({
        code: 'custom',
        path: ['queues', 'dlqRetentionDays'],
        message: 'must exceed queues.retentionDays, so a message cannot expire before it reaches the DLQ',
      });
    }
    if (config.tenant !== undefined && config.tenancy !== 'single') {
      ctx.addIssue({ code: 'custom', path: ['tenant'], message: "may only be set when tenancy is 'single'" });
    }
  });

export type StageConfig = z.infer<typeof StageConfigSchema>;

export class StageConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StageConfigError';
  }
}

const isProduction = (stage: string): boolean => stage === 'prod' || stage === 'production';

/** What every stage gets unless its file says otherwise; production stages keep data and logs longer. */
export const defaultStageConfig = (stage: string): StageConfig => ({
  stage,
  tenancy: 'pooled',
  logRetentionDays: isProduction(stage) ? 365 : 14,
  removalPolicy: isProduction(stage) ? 'retain' : 'destroy',
  logLevel: 'info',
  logSampleRate: isProduction(stage) ? 0.01 : 0.1,
  secretsMaxAgeSeconds: 300,
  llm: {
    defaultModel: 'gpt-4o-mini',
    providers: {
      openai: {
        models: {
          'gpt-4o-mini': { contextTokens: 128_000, maxOutputTokens: 16_384 },
          'gpt-4o': { contextTokens: 128_000, maxOutputTokens: 16_384 },
        },
      },
    },
  },
  plans: {
    free: {
      requests_per_minute: 60,
      tokens_per_month: 100_000,
      storage_bytes: 104_857_600,
      concurrent_connections: 5,
      concurrent_runs: 2,
      tool_invocations_per_day: 100,
      max_steps_per_run: 8,
    },
    pro: {
      requests_per_minute: 600,
      tokens_per_month: 5_000_000,
      storage_bytes: 10_737_418_240,
      concurrent_connections: 50,
      concurrent_runs: 20,
      tool_invocations_per_day: 10_000,
      max_steps_per_run: 25,
    },
  },
  defaultPlan: 'free',
  corsOrigins: [],
  queues: { maxReceiveCount: 5, retentionDays: 4, dlqRetentionDays: 14 },
  alarms: {
    // 1 failed request in 20 is an outage for someone; fewer is noise a retry absorbs.
    apiErrorRate: 0.05,
    apiMinRequests: 20,
    // A p99 at 80 % of the timeout means the slowest calls are about to be cut off.
    durationP99OfTimeout: 0.8,
    // A quarter of answers from a fallback model or the rule-based provider: the main model is failing.
    degradedAnswerRate: 0.25,
    llmMinAnswers: 10,
    llmLatencyP99Ms: {
      // chat-api gives the model 25 s (core/chat/model.ts); a p99 of 20 s leaves it little room.
      'chat-api': 20_000,
      // A worker call may stream a long answer, but a minute per call spends most of a run's 100 s budget.
      'chat-worker': 60_000,
    },
  },
  // The routes re-check the key and its tenant on every request, so the cache delays no revocation; it
  // saves the authorizer's invocation and read on repeated requests with one key.
  authorizerCacheTtlSeconds: 30,
  // Without it, deploying the WebSocket stage with access logs fails in an account that never set one.
  apiGatewayAccountLogsRole: true,
  maxBodyBytes: 1_048_576,
});

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Nested settings (llm, queues, alarms) merge key by key; `plans`, `providers` and arrays replace, so a file can
// drop a default plan or the default provider.
const REPLACED_WHOLE = new Set(['plans', 'providers']);

const merge = (base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> => {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = result[key];
    result[key] =
      isPlainObject(current) && isPlainObject(value) && !REPLACED_WHOLE.has(key)
        ? merge(current, value)
        : value;
  }
  return result;
};

export interface LoadStageConfigOptions {
  /** Directory of `<stage>.json` override files; default `config/stages` of the repository. */
  readonly configDir?: string;
}

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/**
 * The validated config of one stage: defaults for any stage name, overridden by `<configDir>/<stage>.json`.
 *
 * @example
 * const config = loadStageConfig('acme'); // throws "stage 'acme': queues.maxReceiveCount: must be >= 1"
 */
export const loadStageConfig = (stage: string, options: LoadStageConfigOptions = {}): StageConfig => {
  if (!STAGE_NAME_PATTERN.test(stage)) {
    throw new StageConfigError(`stage '${stage}': stage: must match ${STAGE_NAME_PATTERN.source}`);
  }
  const configDir = options.configDir ?? path.join(repoRoot, 'config', 'stages');
  const file = path.join(configDir, `${stage}.json`);
  let overrides: Record<string, unknown> = {};
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new StageConfigError(`stage '${stage}': ${file} is not valid JSON`, { cause: error });
    }
    if (!isPlainObject(parsed))
      throw new StageConfigError(`stage '${stage}': ${file} must hold a JSON object`);
    if (parsed.stage !== undefined && parsed.stage !== stage) {
      throw new StageConfigError(`stage '${stage}': stage: the file names stage '${String(parsed.stage)}'`);
    }
    overrides = parsed;
  }
  const result = StageConfigSchema.safeParse(merge(defaultStageConfig(stage), overrides));
  if (!result.success) throw new StageConfigError(`stage '${stage}': ${describeConfigIssues(result.error)}`);
  return result.data;
};

/**
 * The provider that serves the stage's default model: the one `OPENAI_API_KEY` / `OPENAI_BASE_URL` set
 * locally.
 *
 * @example
 * defaultProviderOf(loadStageConfig('dev')); // 'openai'
 */
export const defaultProviderOf = (config: StageConfig): string => {
  const found = Object.entries(config.llm.providers).find(([, provider]) =>
    Object.hasOwn(provider.models, config.llm.defaultModel),
  );
  if (!found) throw new StageConfigError(`stage '${config.stage}': llm.defaultModel: not in llm.providers`);
  return found[0];
};
