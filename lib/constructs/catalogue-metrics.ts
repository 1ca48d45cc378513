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

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((name) => b.includes(name));

/**
 * A dashboard line per value combination of one catalogue dimension set within a stage (per model, per
 * kind of quota), as a CloudWatch SEARCH. Dashboards only: an alarm cannot evaluate a SEARCH.
 *
 * @example
 * catalogueSearch(METRICS.promptTokens, METRICS.promptTokens.dimensionSets[1], 'acme', 'Sum', period);
 */
export const catalogueSearch = (
  definition: MetricDefinition,
  dimensionSet: readonly DimensionName[],
  stage: string,
  statistic: string,
  period: Duration,
): cloudwatch.MathExpression => {
  if (!definition.dimensionSets.some((set) => sameSet(set, dimensionSet))) {
    throw new Error(`${definition.name} is not published under {${dimensionSet.join(', ')}}`);
  }
  if (!dimensionSet.includes(DIMENSION.stage)) {
    throw new Error(`${definition.name}: a search must stay within the stage`);
  }
  // The schema {namespace, dims...} matches metrics with exactly these dimensions. Stage names are
  // lower-case letters, digits and hyphens (STAGE_NAME_PATTERN), safe inside the quoted search term.
  const schema = [METRICS_NAMESPACE, ...dimensionSet].join(',');
  const term = `{${schema}} MetricName="${definition.name}" ${DIMENSION.stage}="${stage}"`;
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${term}', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
  });
};
