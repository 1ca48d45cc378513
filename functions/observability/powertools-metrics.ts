// Adapter: PlatformMetrics on Powertools Metrics: each event is one CloudWatch EMF record, printed on stdout
// at once (CloudWatch turns it into metrics; the local platform shows it on its console). Names, units and
// dimension sets come from the catalogue (functions/platform/metrics.ts), the one the CDK alarms read.
//
// Why one record per event rather than Powertools' usual flush at the end of the invocation: a record has
// one list of dimension sets for all its metrics, and ours differ per event (model, provider, kind, state,
// ...). Each record is built and published in one synchronous call, so concurrent work in the same
// invocation never mixes its dimensions into another event's record.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BreakerMetricState, LlmAnswerEvent, PlatformMetrics } from '../core/ports/platform-metrics';
import { ENV } from '../platform/env';
import {
  BASE_DIMENSIONS,
  type MetricUnit as CatalogueUnit,
  DIMENSION,
  type DimensionName,
  METRICS,
  METRICS_NAMESPACE,
  type MetricKey,
} from '../platform/metrics';

const UNITS: Record<CatalogueUnit, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Milliseconds: MetricUnit.Milliseconds,
};

/** The record property that carries the tenant id (never a dimension). */
const TENANT_PROPERTY = 'tenant_id';

export interface PowertoolsPlatformMetricsOptions {
  /** Default: TENANTIC_STAGE. */
  readonly stage?: string;
  /** The function's catalogue id; default POWERTOOLS_SERVICE_NAME (Powertools reads it). */
  readonly service?: string;
  /** Where failures to emit are reported (never thrown); default stderr. */
  readonly onError?: (error: unknown) => void;
}

type Dimensions = Partial<Record<DimensionName, string>>;
type Values = Partial<Record<MetricKey, number | undefined>>;

const BASE: ReadonlySet<string> = new Set(BASE_DIMENSIONS);
/** Each metric's dimension sets as one key, once: metrics with the same sets share a record. */
const SETS_KEY = Object.fromEntries(
  Object.entries(METRICS).map(([key, metric]) => [key, JSON.stringify(metric.dimensionSets)]),
) as Record<MetricKey, string>;

/**
 * @example
 * const metrics = new PowertoolsPlatformMetrics({ stage: 'dev', service: 'chat-api' });
 * metrics.quotaRefused({ tenantId: 'ten_1', kind: 'requests_per_minute' });
 * // stdout: {"_aws":{"CloudWatchMetrics":[{"Namespace":"Tenantic","Dimensions":[["service","stage"],
 * //   ["service","stage","kind"]],"Metrics":[{"Name":"QuotaRefusals","Unit":"Count"}]}],...},
 * //   "tenant_id":"ten_1","service":"chat-api","stage":"dev","kind":"requests_per_minute","QuotaRefusals":1}
 */
export class PowertoolsPlatformMetrics implements PlatformMetrics {
  private readonly metrics: Metrics;
  private readonly onError: (error: unknown) => void;

  constructor(options: PowertoolsPlatformMetricsOptions = {}) {
    this.onError =
      options.onError ?? ((error) => process.stderr.write(`metrics: could not emit: ${String(error)}\n`));
    const report = (...content: unknown[]) => this.onError(content.map(String).join(' '));
    this.metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      logger: {
        debug: () => undefined,
        info: () => undefined,
        // A dimension in two of one record's sets (`state` of BreakerTransitions) holds one value: benign.
        warn: (...content: unknown[]) => {
          if (!String(content[0]).includes('both a dimension set and dimension set')) report(...content);
        },
        error: report,
      },
      ...(options.service && { serviceName: options.service }),
      defaultDimensions: { [DIMENSION.stage]: options.stage ?? process.env[ENV.stage] ?? 'local' },
    });
  }

  llmAnswered(event: LlmAnswerEvent): void {
    this.emit(
      {
        llmAnswers: 1,
        degradedAnswers: event.degraded ? 1 : undefined,
        promptTokens: event.promptTokens,
        completionTokens: event.completionTokens,
        llmLatency: event.latencyMs,
        timeToFirstToken: event.timeToFirstTokenMs,
      },
      { model: event.model, provider: event.provider },
      event.tenantId,
    );
  }

  fallbackTaken(event: { tenantId?: string | undefined; model: string; provider: string }): void {
    this.emit({ fallbacksTaken: 1 }, { model: event.model, provider: event.provider }, event.tenantId);
  }

  breakerChanged(event: { provider: string; model?: string | undefined; state: BreakerMetricState }): void {
    this.emit({ breakerTransitions: 1 }, { provider: event.provider, state: event.state });
  }

  quotaRefused(event: { tenantId?: string | undefined; kind: string }): void {
    this.emit({ quotaRefusals: 1 }, { kind: event.kind }, event.tenantId);
  }

  deadLettered(event: { queue: string; tenantId?: string | undefined }): void {
    this.emit({ deadLetterMoves: 1 }, { queue: event.queue }, event.tenantId);
  }

  runFinished(event: { tenantId: string; status: string }): void {
    this.emit({ runsFinished: 1 }, { status: event.status }, event.tenantId);
  }

  framesPosted(event: { tenantId?: string | undefined; count: number }): void {
    if (event.count > 0) this.emit({ streamFramesPosted: event.count }, {}, event.tenantId);
  }

  /** One record per distinct list of dimension sets among the metrics given (usually one). */
  private emit(values: Values, dimensions: Dimensions, tenantId?: string): void {
    const groups = new Map<string, MetricKey[]>();
    for (const [key, value] of Object.entries(values) as [MetricKey, number | undefined][]) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const sets = SETS_KEY[key];
      groups.set(sets, [...(groups.get(sets) ?? []), key]);
    }
    for (const keys of groups.values()) this.publish(keys, values, dimensions, tenantId);
  }

  private publish(keys: readonly MetricKey[], values: Values, dimensions: Dimensions, tenantId?: string) {
    try {
      const [first] = keys;
      if (!first) return;
      for (const set of METRICS[first].dimensionSets) {
        // stage and service are the default dimensions: Powertools puts them in every set.
        const extra = set.filter((name) => !BASE.has(name));
        this.metrics.addDimensions(
          Object.fromEntries(extra.map((name) => [name, dimensions[name] ?? 'none'])),
        );
      }
      if (tenantId) this.metrics.addMetadata(TENANT_PROPERTY, tenantId);
      for (const key of keys) {
        this.metrics.addMetric(METRICS[key].name, UNITS[METRICS[key].unit], values[key] ?? 0);
      }
      this.metrics.publishStoredMetrics();
    } catch (error) {
      this.metrics.clearMetrics();
      this.metrics.clearDimensions();
      this.metrics.clearMetadata();
      this.onError(error);
    }
  }
}

let shared: PlatformMetrics | undefined;

/**
 * The function's one PlatformMetrics (created on first use, from the environment the CDK app sets).
 *
 * @example
 * const llm = new ProviderRoutingLlmClient({ catalogue, connect, breakers, metrics: platformMetrics() });
 */
export const platformMetrics = (): PlatformMetrics => {
  shared ??= new PowertoolsPlatformMetrics();
  return shared;
};
