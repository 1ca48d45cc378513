// Platform manifest: the custom CloudWatch metrics (EMF), shared by the functions that emit them and the
// CDK alarms and dashboard that read them, so a metric's name, unit and dimensions live in one place.

/** The namespace of every custom metric. */
export const METRICS_NAMESPACE = 'Tenantic';

/**
 * Dimension names. All are low-cardinality: `service` is the function's catalogue id (Powertools' name
 * for it, set from `serviceName`); a tenant id is never a dimension, it goes in as a property.
 */
export const DIMENSION = {
  stage: 'stage',
  service: 'service',
  /** The model that answered (or was asked for, on a fallback), from the stage's catalogue. */
  model: 'model',
  provider: 'provider',
  /** Quota refusals: which limit refused. */
  kind: 'kind',
  /** Runs by final status. */
  status: 'status',
  /** Circuit breaker transitions: the state entered. */
  state: 'state',
  /** Dead-letter moves: the work queue's name. */
  queue: 'queue',
} as const;

export type DimensionName = (typeof DIMENSION)[keyof typeof DIMENSION];

/**
 * The values of the `state` dimension of BreakerTransitions: the state a breaker entered. The breaker-opens
 * alarm reads `open`, so the emitting code must write these exact values (not its own `half-open`).
 */
export const BREAKER_STATE = { open: 'open', halfOpen: 'half_open', closed: 'closed' } as const;

/** Every metric carries the stage and the function; the set alarms read unless a metric says otherwise. */
export const BASE_DIMENSIONS = [DIMENSION.stage, DIMENSION.service] as const;
const PER_MODEL = [...BASE_DIMENSIONS, DIMENSION.model, DIMENSION.provider] as const;

export type MetricUnit = 'Count' | 'Milliseconds';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly description: string;
  /**
   * The dimension sets each data point is published under (EMF allows several per record). The first is
   * the one alarms use; the others break it down for the dashboard.
   */
  readonly dimensionSets: readonly (readonly DimensionName[])[];
}

export const METRICS = {
  llmAnswers: {
    name: 'LlmAnswers',
    unit: 'Count',
    description:
      'LLM answers given (streamed or not), by whoever answered: the denominator of the degraded rate',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  degradedAnswers: {
    name: 'DegradedAnswers',
    unit: 'Count',
    description: 'Answers not from the requested model: a fallback model or the rule-based provider',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  fallbacksTaken: {
    name: 'LlmFallbacks',
    unit: 'Count',
    description: 'Steps down a fallback chain: the model (and its provider) that could not answer',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  breakerTransitions: {
    name: 'BreakerTransitions',
    unit: 'Count',
    description: "A provider's circuit breaker entering a state (open, half_open, closed)",
    dimensionSets: [
      [...BASE_DIMENSIONS, DIMENSION.state],
      [...BASE_DIMENSIONS, DIMENSION.provider, DIMENSION.state],
    ],
  },
  promptTokens: {
    name: 'PromptTokens',
    unit: 'Count',
    description: 'Prompt tokens charged to tenants, as the provider reported them',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  completionTokens: {
    name: 'CompletionTokens',
    unit: 'Count',
    description: 'Completion tokens charged to tenants, as the provider reported them',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  llmLatency: {
    name: 'LlmLatency',
    unit: 'Milliseconds',
    description: 'One LLM call, from request to its last token',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  timeToFirstToken: {
    name: 'LlmTimeToFirstToken',
    unit: 'Milliseconds',
    description: 'A streamed LLM call, from request to its first token',
    dimensionSets: [BASE_DIMENSIONS, PER_MODEL],
  },
  quotaRefusals: {
    name: 'QuotaRefusals',
    unit: 'Count',
    description: 'Requests refused by a quota (429), by kind of limit',
    dimensionSets: [BASE_DIMENSIONS, [...BASE_DIMENSIONS, DIMENSION.kind]],
  },
  deadLetterMoves: {
    name: 'DeadLetterMoves',
    unit: 'Count',
    description: 'Queue messages that failed for the last time and go to their dead-letter queue',
    dimensionSets: [BASE_DIMENSIONS, [...BASE_DIMENSIONS, DIMENSION.queue]],
  },
  runsFinished: {
    name: 'RunsFinished',
    unit: 'Count',
    description: 'Agent runs that reached a final status (completed, failed, cancelled, ...)',
    dimensionSets: [BASE_DIMENSIONS, [...BASE_DIMENSIONS, DIMENSION.status]],
  },
  streamFramesPosted: {
    name: 'StreamFramesPosted',
    unit: 'Count',
    description: 'Frames posted to WebSocket clients',
    dimensionSets: [BASE_DIMENSIONS],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;
