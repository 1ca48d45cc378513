// Port: what the core tells the platform's metrics (CloudWatch EMF in the cloud, stdout locally) as it
// happens. The catalogue of names, units and dimensions is functions/platform/metrics.ts; the adapter is
// functions/observability/powertools-metrics.ts. A tenant id is never a dimension: the adapter writes it
// as a property of the record, searchable in Logs Insights.

/** A circuit breaker state as the metrics name it. */
export type BreakerMetricState = 'open' | 'half_open' | 'closed';

/** One LLM answer, from whichever link of the fallback chain gave it. */
export interface LlmAnswerEvent {
  readonly tenantId?: string | undefined;
  /** The model and provider that answered. */
  readonly model: string;
  readonly provider: string;
  /** Not the requested model's own answer: a fallback model or the rule-based provider. */
  readonly degraded: boolean;
  /** As reported by the provider (or estimated where it reported none): what the tenant is charged. */
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** From the request to the last token. */
  readonly latencyMs: number;
  /** Streams only: from the request to the first token. */
  readonly timeToFirstTokenMs?: number | undefined;
}

/**
 * The events the metrics count. Every method is synchronous and never throws: metrics never fail a request.
 *
 * @example
 * const llm = new ProviderRoutingLlmClient({ catalogue, connect, breakers, metrics });
 * metrics.runFinished({ tenantId: 'ten_1', status: 'completed' });
 */
export interface PlatformMetrics {
  llmAnswered(event: LlmAnswerEvent): void;
  /** A link of a fallback chain could not answer: the next one is tried. */
  fallbackTaken(event: { tenantId?: string | undefined; model: string; provider: string }): void;
  breakerChanged(event: { provider: string; model?: string | undefined; state: BreakerMetricState }): void;
  /** A request refused by a quota (429); `kind` is the quota (`requests_per_minute`, ...). */
  quotaRefused(event: { tenantId?: string | undefined; kind: string }): void;
  /** A queue message failed for the last time and goes to its dead-letter queue. */
  deadLettered(event: { queue: string; tenantId?: string | undefined }): void;
  /** A run reached a final status (completed, failed, cancelled). */
  runFinished(event: { tenantId: string; status: string }): void;
  /** Frames posted to WebSocket clients (a run's, at its end). */
  framesPosted(event: { tenantId?: string | undefined; count: number }): void;
}

const ignore = (): void => undefined;

/** The default where no adapter is wired (unit tests, functions that count nothing). */
export const noMetrics: PlatformMetrics = {
  llmAnswered: ignore,
  fallbackTaken: ignore,
  breakerChanged: ignore,
  quotaRefused: ignore,
  deadLettered: ignore,
  runFinished: ignore,
  framesPosted: ignore,
};
