// Core: the one table of model limits (context window, longest completion), so context building,
// max_tokens checks and token reservations agree. The stage's provider catalogue declares the limits of its
// models; the published limits below fill in what a catalogue leaves out, and anything else gets a
// conservative default.
import type { ProviderCatalogue } from '../llm/catalogue';
import { RULE_BASED_MODEL } from '../llm/rule-based-provider';

export interface ModelLimits {
  /** Prompt plus completion tokens the model accepts in one call. */
  readonly contextTokens: number;
  /** The most completion tokens one call may ask for (`max_tokens` above it is a 400). */
  readonly maxOutputTokens: number;
}

/**
 * Published limits of the models a stage is likely to list. A stage may offer others (any
 * OpenAI-compatible upstream): they get DEFAULT_MODEL_LIMITS, small enough to fit most served models.
 */
export const MODEL_LIMITS: Readonly<Record<string, ModelLimits>> = {
  'gpt-4o': { contextTokens: 128_000, maxOutputTokens: 16_384 },
  'gpt-4o-mini': { contextTokens: 128_000, maxOutputTokens: 16_384 },
  'gpt-4.1': { contextTokens: 1_047_576, maxOutputTokens: 32_768 },
  'gpt-4.1-mini': { contextTokens: 1_047_576, maxOutputTokens: 32_768 },
  'gpt-4.1-nano': { contextTokens: 1_047_576, maxOutputTokens: 32_768 },
  'gpt-3.5-turbo': { contextTokens: 16_385, maxOutputTokens: 4_096 },
  [RULE_BASED_MODEL]: { contextTokens: 16_384, maxOutputTokens: 1_024 },
};

/** For a model we know nothing about: an 8k-output, 16k-context model is the smallest common case. */
export const DEFAULT_MODEL_LIMITS: ModelLimits = { contextTokens: 16_384, maxOutputTokens: 4_096 };

/**
 * What an agent step asks for when nobody said: enough for a chat answer, while keeping the worst case
 * the quota ledger reserves (prompt + max_tokens) modest.
 */
export const DEFAULT_STEP_MAX_TOKENS = 1_024;

/** The limits of a model the stage config names without stating them. */
export const publishedLimits = (model: string): ModelLimits => MODEL_LIMITS[model] ?? DEFAULT_MODEL_LIMITS;

/**
 * The stage catalogue's limits, declared once per cold start by the wiring. Process-wide on purpose: every
 * use case of a function serves the one stage, and the callers (context building, the run loop, the
 * completions checks) then need no extra dependency to agree on a model's limits.
 */
let declared: ReadonlyMap<string, ModelLimits> = new Map();

/**
 * Makes the catalogue's limits the ones `modelLimits` answers with (replacing any earlier declaration).
 *
 * @example
 * declareModelLimits(runtimeConfig().llm.providers); // at cold start
 */
export const declareModelLimits = (catalogue: ProviderCatalogue): void => {
  declared = new Map(
    Object.values(catalogue).flatMap((provider) =>
      Object.entries(provider.models).map(([model, spec]) => [model, spec] as const),
    ),
  );
};

/**
 * @example
 * modelLimits('gpt-4o-mini').maxOutputTokens; // 16384, unless the catalogue says otherwise
 * modelLimits('my-local-llama'); // the catalogue's limits, else DEFAULT_MODEL_LIMITS
 */
export const modelLimits = (model: string): ModelLimits => declared.get(model) ?? publishedLimits(model);
