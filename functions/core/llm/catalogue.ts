// Core: the stage's catalogue of LLM providers (named upstreams, each with a base URL and its models and
// their limits and fallbacks). The stage config declares it, the CDK app hands it to the functions as JSON,
// and the router, the model limits and the tenant checks all read this one shape.
import { z } from 'zod';
import { RULE_BASED_PROVIDER } from './rule-based-provider';

/**
 * Lower-case letters, digits and hyphens: a provider's name becomes part of environment variable names
 * (`TENANTIC_PROVIDER_<NAME>_API_KEY`), so no two names may map to the same variable.
 */
const PROVIDER_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;

const positiveInt = z.number().int('must be an integer').positive('must be > 0');

export const ModelIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^\S+$/, 'must not contain whitespace');

/**
 * The models to ask, in order, when a model's own provider fails: any models of the catalogue (another
 * provider's too). They are not followed transitively; the rule-based provider always ends the chain.
 */
export const FallbacksSchema = z.array(ModelIdSchema);

/** What a model accepts in one call, and what answers when it cannot. */
const ModelSpecSchema = z
  .object({
    /** Prompt plus completion tokens. */
    contextTokens: positiveInt,
    /** The most completion tokens one call may ask for. */
    maxOutputTokens: positiveInt,
    /** Absent: the model's provider fails straight over to the rule-based provider. */
    fallbacks: FallbacksSchema.optional(),
  })
  .strict()
  .refine((spec) => spec.maxOutputTokens <= spec.contextTokens, {
    message: 'maxOutputTokens must not exceed contextTokens',
    path: ['maxOutputTokens'],
  });
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export const ProviderNameSchema = z
  .string()
  .regex(PROVIDER_NAME_PATTERN, `must match ${PROVIDER_NAME_PATTERN.source}`)
  .refine((name) => name !== RULE_BASED_PROVIDER, `'${RULE_BASED_PROVIDER}' is the built-in fallback's name`);

/** Base URLs come only from reviewed stage config: https, or http to a loopback host for local upstreams. */
export const BaseUrlSchema = z.url('must be a URL').refine((value) => {
  // Refinements run even after the URL check failed: that case has its issue already.
  if (!URL.canParse(value)) return true;
  const url = new URL(value);
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}, 'must be https (or http to 127.0.0.1/localhost), without credentials');

/** One upstream as the functions receive it: every model with its limits spelled out. */
const ProviderSpecSchema = z
  .object({
    /** The OpenAI-compatible endpoint (its `/v1`); absent: the `openai` SDK's default (api.openai.com). */
    baseUrl: BaseUrlSchema.optional(),
    /** OpenAI's newer models want `max_completion_tokens`; most compatible servers only know `max_tokens`. */
    maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
    models: z
      .record(ModelIdSchema, ModelSpecSchema)
      .refine((models) => Object.keys(models).length > 0, 'must name at least one model'),
  })
  .strict();
export type ProviderSpec = z.infer<typeof ProviderSpecSchema>;

/**
 * Adds an issue for every model id that more than one provider serves: a request names a model, and the
 * model alone decides where it goes.
 */
export const checkModelsUnique = (
  providers: Readonly<Record<string, { models: Readonly<Record<string, unknown>> }>>,
  ctx: z.RefinementCtx,
  path: readonly (string | number)[] = [],
): void => {
  const owner = new Map<string, string>();
  for (const [provider, spec] of Object.entries(providers)) {
    for (const model of Object.keys(spec.models)) {
      const first = owner.get(model);
      if (first === undefined) owner.set(model, provider);
      else
        ctx.addIssue({
          code: 'custom',
          path: [...path, provider, 'models', model],
          message: `is also served by provider '${first}': a model id must belong to one provider`,
        });
    }
  }
};

/**
 * Adds an issue for every fallback that is not a model of the catalogue, is the model itself, or repeats
 * an earlier one: each would be a link that can never help.
 */
export const checkFallbacks = (
  providers: Readonly<
    Record<string, { models: Readonly<Record<string, { fallbacks?: readonly string[] | undefined }>> }>
  >,
  ctx: z.RefinementCtx,
  path: readonly (string | number)[] = [],
): void => {
  const known = new Set(Object.values(providers).flatMap((provider) => Object.keys(provider.models)));
  for (const [provider, spec] of Object.entries(providers)) {
    for (const [model, { fallbacks = [] }] of Object.entries(spec.models)) {
      fallbacks.forEach((fallback, index) => {
        const message =
          fallback === model
            ? 'is the model itself: a fallback must be another model'
            : fallbacks.indexOf(fallback) < index
              ? `repeats '${fallback}'`
              : known.has(fallback)
                ? undefined
                : fallback === RULE_BASED_PROVIDER
                  ? `'${fallback}' always ends the chain by itself: list only catalogue models`
                  : `'${fallback}' is not a model of any provider (${[...known].join(', ')})`;
        if (message)
          ctx.addIssue({
            code: 'custom',
            path: [...path, provider, 'models', model, 'fallbacks', index],
            message,
          });
      });
    }
  }
};

/** The catalogue as the functions receive it (environment `TENANTIC_LLM_PROVIDERS`). */
export const ProviderCatalogueSchema = z
  .record(ProviderNameSchema, ProviderSpecSchema)
  .refine((providers) => Object.keys(providers).length > 0, 'must declare at least one provider')
  .superRefine((providers, ctx) => {
    checkModelsUnique(providers, ctx);
    checkFallbacks(providers, ctx);
  });
export type ProviderCatalogue = z.infer<typeof ProviderCatalogueSchema>;

/** Where a model lives. */
export interface CatalogueEntry {
  readonly provider: string;
  readonly spec: ModelSpec;
}

/**
 * The catalogue, indexed by model id.
 *
 * @example
 * const catalogue = new ModelCatalogue({ openai: { models: { 'gpt-4o': { contextTokens: 128000, maxOutputTokens: 16384 } } } });
 * catalogue.providerOf('gpt-4o'); // 'openai'
 * catalogue.providerOf('llama3'); // undefined
 */
export class ModelCatalogue {
  private readonly entries: ReadonlyMap<string, CatalogueEntry>;

  constructor(readonly providers: ProviderCatalogue) {
    const entries = new Map<string, CatalogueEntry>();
    for (const [provider, spec] of Object.entries(providers)) {
      for (const [model, limits] of Object.entries(spec.models))
        entries.set(model, { provider, spec: limits });
    }
    this.entries = entries;
  }

  /** Every model id, provider by provider, in declaration order. */
  models(): string[] {
    return [...this.entries.keys()];
  }

  providerOf(model: string): string | undefined {
    return this.entries.get(model)?.provider;
  }

  entry(model: string): CatalogueEntry | undefined {
    return this.entries.get(model);
  }

  /** The models to try after `model`, in order (none when it declares none, or is not in the catalogue). */
  fallbacksOf(model: string): readonly string[] {
    return this.entries.get(model)?.spec.fallbacks ?? [];
  }

  /** Model id → provider name, for `GET /v1/models`' `owned_by`. */
  owners(): Record<string, string> {
    return Object.fromEntries([...this.entries].map(([model, entry]) => [model, entry.provider]));
  }
}
