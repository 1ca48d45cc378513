// CDK helper: CloudWatch metrics and dashboard searches built from the custom-metric catalogue
// (functions/platform/metrics.ts), so no metric name or dimension is spelled a second time in lib/.
import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  DIMENSION,
  type DimensionName,
  METRICS_NAMESPACE,
  type MetricDefinition,
} from '../../functions/platform/metrics';

type DimensionValues = Readonly<Partial<Record<DimensionName, string>>>;

/**
 * A catalogue metric under its first dimension set, the one alarms read. Every dimension of that set needs
 * a value and no other may be given: CloudWatch matches a metric only on its exact dimension set, so a
 * missing or extra dimension would give an alarm that never sees a data point.
 *
 * @example
 * catalogueMetric(METRICS.llmLatency, { stage: 'acme', service: 'chat-api' }, { statistic: 'p99', period });
 */
export const catalogueMetric = (
  definition: MetricDefinition,
  values: DimensionValues,
  options: cloudwatch.MetricOptions,
): cloudwatch.Metric => {
  const [alarmSet = []] = definition.dimensionSets;
  const dimensionsMap: Record<string, string> = {};
  for (const name of alarmSet) {
    const value = values[name];
    if (value === undefined) throw new Error(`${definition.name}: no value for its dimension '${name}'`);
    dimensionsMap[name] = value;
  }
  const extra = Object.keys(values).filter((name) => !(alarmSet as readonly string[]).includes(name));
  if (extra.length > 0) {
    throw new Error(`${definition.name}: '${extra.join("', '")}' is not in its first dimension set`);
  }
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: definition.name,
    dimensionsMap,
    ...options,
  });
};

/**
 * A dashboard line per value of `by` (and of the other dimensions of the catalogue's dimension set that
 * holds it: per model and provider, per kind of quota) within a stage, as a CloudWatch SEARCH. Dashboards
 * only: an alarm cannot evaluate a SEARCH.
 *
 * @example
 * catalogueSearch(METRICS.promptTokens, DIMENSION.model, 'acme', 'Sum', Duration.minutes(5));
 */
export const catalogueSearch = (
  definition: MetricDefinition,
  by: DimensionName,
  stage: string,
  statistic: string,
  period: Duration,
): cloudwatch.MathExpression => {
  const dimensionSet = definition.dimensionSets.find((set) => (set as readonly DimensionName[]).includes(by));
  if (!dimensionSet) throw new Error(`${definition.name} is not published with a '${by}' dimension`);
  // The schema {namespace, dims...} matches metrics with exactly these dimensions, every set holds the
  // stage, and stage names are lower-case letters, digits and hyphens (STAGE_NAME_PATTERN): safe inside
  // the quoted search term.
  const schema = [METRICS_NAMESPACE, ...dimensionSet].join(',');
  const term = `{${schema}} MetricName="${definition.name}" ${DIMENSION.stage}="${stage}"`;
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${term}', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
  });
};
