// Infra tests: alarm metrics and dashboard searches are built from the metric catalogue, or not at all.
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DIMENSION, METRICS } from '../../functions/platform/metrics';
import { catalogueMetric, catalogueSearch } from '../../lib/constructs/catalogue-metrics';

const period = Duration.minutes(5);

describe('catalogueMetric', () => {
  it('reads the first dimension set, every dimension with its value', () => {
    const metric = catalogueMetric(
      METRICS.breakerTransitions,
      { stage: 'acme', service: 'chat-api', state: 'open' },
      { statistic: 'Sum', period },
    );
    expect(metric.namespace).toBe('Tenantic');
    expect(metric.metricName).toBe('BreakerTransitions');
    expect(metric.dimensions).toEqual({ stage: 'acme', service: 'chat-api', state: 'open' });
  });

  // Either would be an alarm on a dimension set nothing publishes: it would never see a data point.
  it('refuses a dimension of the set left without a value', () => {
    expect(() =>
      catalogueMetric(METRICS.breakerTransitions, { stage: 'acme', service: 'chat-api' }, { period }),
    ).toThrow("BreakerTransitions: no value for its dimension 'state'");
  });

  it('refuses a dimension outside the set', () => {
    expect(() =>
      catalogueMetric(
        METRICS.llmLatency,
        { stage: 'acme', service: 'chat-api', model: 'gpt-4o' },
        { period },
      ),
    ).toThrow("LlmLatency: 'model' is not in its first dimension set");
  });
});

describe('catalogueSearch', () => {
  it('searches the dimension set that holds the breakdown, within the stage', () => {
    const search = catalogueSearch(METRICS.quotaRefusals, DIMENSION.kind, 'acme', 'Sum', period);
    expect(search.expression).toBe(
      `SEARCH('{Tenantic,stage,service,kind} MetricName="QuotaRefusals" stage="acme"', 'Sum', 300)`,
    );
  });

  it('refuses a breakdown the metric is not published with', () => {
    expect(() => catalogueSearch(METRICS.streamFramesPosted, DIMENSION.model, 'acme', 'Sum', period)).toThrow(
      "StreamFramesPosted is not published with a 'model' dimension",
    );
  });
});
