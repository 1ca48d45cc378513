// Infra tests: each alarm's metric, statistic, period and threshold, the stage overrides, and the dashboard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../../functions/platform/functions';
import { BREAKER_STATE, METRICS, METRICS_NAMESPACE } from '../../functions/platform/metrics';
import { WS_ROUTES } from '../../functions/platform/routes';
import { defaultStageConfig } from '../../lib/config/stages';
import {
  configDirWith,
  functionLogicalIds,
  type Json,
  resourcesOfType,
  type SynthesizedStage,
  synthStage,
} from '../helpers/cdk-synth';

/** Every threshold moved off its default, so a test passes only if the stage file reached the alarm. */
const ALARMS = {
  apiErrorRate: 0.1,
  apiMinRequests: 50,
  durationP99OfTimeout: 0.7,
  degradedAnswerRate: 0.4,
  llmMinAnswers: 5,
  llmLatencyP99Ms: { 'chat-api': 15_000, 'chat-worker': 45_000 },
};
const EMAIL = 'oncall@acme.example';
const FIVE_MINUTES = 300;

let stage: SynthesizedStage;
let fnIds: Map<string, string>;
let topicId: string;

beforeAll(() => {
  stage = synthStage('acme', configDirWith('acme', { alarmEmail: EMAIL, alarms: ALARMS }));
  fnIds = functionLogicalIds(stage.apiJson);
  [[topicId]] = resourcesOfType(stage.apiJson, 'AWS::SNS::Topic') as [[string, Json]];
});
afterAll(() => stage?.dispose());

const catalogue = Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][];
const llmFunctions = catalogue.filter(([, definition]) => definition.llm === true);
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) =>
  stage.built.apiStack.getLogicalId(construct.node.defaultChild as never);

interface Stat {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Record<string, Json>;
  readonly stat: string;
  readonly period: number;
}
interface AlarmView {
  readonly logicalId: string;
  readonly props: Json;
  /** The metrics the alarm reads: its single metric, or each MetricStat of its expression. */
  readonly stats: readonly Stat[];
  /** Id → expression, for metric-math alarms. */
  readonly expressions: Readonly<Record<string, string>>;
}

const dimensionsOf = (dimensions: Json[] = []) =>
  Object.fromEntries(dimensions.map((d) => [d.Name, d.Value]));

const alarms = (): AlarmView[] =>
  resourcesOfType(stage.apiJson, 'AWS::CloudWatch::Alarm').map(([logicalId, { Properties: props }]) => {
    const metrics: Json[] = props.Metrics ?? [];
    const stats: Stat[] = props.Metrics
      ? metrics
          .filter((m) => m.MetricStat)
          .map((m) => ({
            id: m.Id,
            namespace: m.MetricStat.Metric.Namespace,
            name: m.MetricStat.Metric.MetricName,
            dimensions: dimensionsOf(m.MetricStat.Metric.Dimensions),
            stat: m.MetricStat.Stat,
            period: m.MetricStat.Period,
          }))
      : [
          {
            id: '(single)',
            namespace: props.Namespace,
            name: props.MetricName,
            dimensions: dimensionsOf(props.Dimensions),
            stat: props.Statistic ?? props.ExtendedStatistic,
            period: props.Period,
          },
        ];
    const expressions = Object.fromEntries(
      metrics.filter((m) => m.Expression).map((m) => [m.Id, m.Expression as string]),
    );
    return { logicalId, props, stats, expressions };
  });

/** The one alarm reading a metric named `name` whose dimensions include `dimensions`. */
const alarmOn = (name: string, dimensions: Record<string, Json>): AlarmView => {
  const found = alarms().filter((alarm) =>
    alarm.stats.some(
      (stat) =>
        stat.name === name &&
        Object.entries(dimensions).every(
          ([key, value]) => JSON.stringify(stat.dimensions[key]) === JSON.stringify(value),
        ),
    ),
  );
  expect(
    found.map((alarm) => alarm.logicalId),
    `${name} ${JSON.stringify(dimensions)}`,
  ).toHaveLength(1);
  return found[0]!;
};
const statNamed = (alarm: AlarmView, name: string): Stat => alarm.stats.find((stat) => stat.name === name)!;
/** The expression the alarm evaluates (the one returning data). */
const returned = (alarm: AlarmView): string =>
  (alarm.props.Metrics as Json[]).find((m) => m.ReturnData !== false).Expression;

const expectPages = (alarm: AlarmView) => {
  expect(alarm.props.AlarmActions).toEqual([{ Ref: topicId }]);
  expect(alarm.props.ComparisonOperator).toBe('GreaterThanThreshold');
  expect(alarm.props.TreatMissingData).toBe('notBreaching');
};

describe('stage config', () => {
  it('moves every threshold off its default in this test', () => {
    const defaults = defaultStageConfig('acme').alarms;
    expect(stage.built.config.alarms).toEqual(ALARMS);
    for (const [key, value] of Object.entries(ALARMS)) {
      expect(value, key).not.toEqual(defaults[key as keyof typeof defaults]);
    }
  });

  it('sends every alarm to the topic, which mails the stage config address', () => {
    for (const alarm of alarms())
      expect(alarm.props.AlarmActions, alarm.logicalId).toEqual([{ Ref: topicId }]);
    stage.api.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: EMAIL,
      TopicArn: { Ref: topicId },
    });
  });
});

describe('API error rates', () => {
  it('HTTP API: 5xx over requests, guarded by a minimum of requests', () => {
    const apiId = { Ref: logicalIdOf(stage.built.apiStack.httpApi.api) };
    const alarm = alarmOn('5xx', { ApiId: apiId });
    const failed = statNamed(alarm, '5xx');
    const total = statNamed(alarm, 'Count');
    for (const stat of [failed, total]) {
      expect(stat).toMatchObject({ namespace: 'AWS/ApiGateway', stat: 'Sum', period: FIVE_MINUTES });
      // The API has one stage, `$default`: the per-API series is the stage's.
      expect(stat.dimensions).toEqual({ ApiId: apiId });
    }
    expect(returned(alarm)).toBe(`IF(${total.id} >= 50, FILL(${failed.id}, 0) / ${total.id}, 0)`);
    expect(alarm.props.Threshold).toBe(0.1);
    expect(alarm.props).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 2 });
    expectPages(alarm);
  });

  it('WebSocket API: execution errors over the route functions’ invocations, guarded likewise', () => {
    const apiId = { Ref: logicalIdOf(stage.built.apiStack.webSocketApi.api) };
    const alarm = alarmOn('ExecutionError', { ApiId: apiId });
    const failed = statNamed(alarm, 'ExecutionError');
    expect(failed).toMatchObject({ namespace: 'AWS/ApiGateway', stat: 'Sum', period: FIVE_MINUTES });
    expect(failed.dimensions).toEqual({ ApiId: apiId, Stage: 'acme' });
    // IntegrationError also counts the 4xx refusals our handlers answer on purpose: not read.
    expect(alarm.stats.map((stat) => stat.name)).not.toContain('IntegrationError');

    const invocations = alarm.stats.filter((stat) => stat.name === 'Invocations');
    const routeFunctions = new Set(WS_ROUTES.map((route) => fnIds.get(route.function)));
    expect(new Set(invocations.map((stat) => stat.dimensions.FunctionName.Ref))).toEqual(routeFunctions);
    for (const stat of invocations) {
      expect(stat).toMatchObject({ namespace: 'AWS/Lambda', stat: 'Sum', period: FIVE_MINUTES });
    }
    const [totalId, totalExpression] = Object.entries(alarm.expressions).find(
      ([, e]) => !e.startsWith('IF'),
    )!;
    expect(totalExpression.split(' + ').sort()).toEqual(
      invocations.map((stat) => `FILL(${stat.id}, 0)`).sort(),
    );
    expect(returned(alarm)).toBe(`IF(${totalId} >= 50, FILL(${failed.id}, 0) / ${totalId}, 0)`);
    expect(alarm.props.Threshold).toBe(0.1);
    expect(alarm.props).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 2 });
    expectPages(alarm);
  });
});

describe('functions', () => {
  it.each(catalogue)('%s: p99 Duration above 70 %% of its timeout, 15 minutes in a row', (id, definition) => {
    const alarm = alarmOn('Duration', { FunctionName: { Ref: fnIds.get(id) } });
    expect(alarm.stats).toEqual([
      {
        id: '(single)',
        namespace: 'AWS/Lambda',
        name: 'Duration',
        dimensions: { FunctionName: { Ref: fnIds.get(id) } },
        stat: 'p99',
        period: FIVE_MINUTES,
      },
    ]);
    expect(alarm.props.Threshold).toBe(Math.round(definition.timeoutSeconds * 1000 * 0.7));
    expect(alarm.props).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expectPages(alarm);
  });

  it.each(catalogue)('%s: any throttle, per 5 minutes', (id) => {
    const alarm = alarmOn('Throttles', { FunctionName: { Ref: fnIds.get(id) } });
    expect(alarm.stats[0]).toMatchObject({ namespace: 'AWS/Lambda', stat: 'Sum', period: FIVE_MINUTES });
    expect(alarm.props.Threshold).toBe(0);
    expect(alarm.props.EvaluationPeriods).toBe(1);
    expectPages(alarm);
  });
});

describe('LLM health, from the metric catalogue', () => {
  const service = (id: string) => ({ stage: 'acme', service: id });

  it('reads every custom metric under the first dimension set of its catalogue entry, in namespace Tenantic', () => {
    const custom = alarms().flatMap((alarm) =>
      alarm.stats.filter((stat) => stat.namespace === METRICS_NAMESPACE),
    );
    expect(custom.length).toBeGreaterThan(0);
    expect(METRICS_NAMESPACE).toBe('Tenantic');
    for (const stat of custom) {
      const definition = Object.values(METRICS).find((metric) => metric.name === stat.name)!;
      expect(Object.keys(stat.dimensions).sort(), stat.name).toEqual([...definition.dimensionSets[0]].sort());
    }
    // Only the functions that call an LLM emit these metrics.
    expect(new Set(custom.map((stat) => stat.dimensions.service))).toEqual(
      new Set(llmFunctions.map(([id]) => id)),
    );
  });

  it.each(llmFunctions)('%s: degraded answers over LLM answers, guarded by a minimum of answers', (id) => {
    const alarm = alarmOn(METRICS.degradedAnswers.name, service(id));
    const failed = statNamed(alarm, METRICS.degradedAnswers.name);
    const total = statNamed(alarm, METRICS.llmAnswers.name);
    for (const stat of [failed, total]) {
      expect(stat).toMatchObject({ namespace: 'Tenantic', stat: 'Sum', period: FIVE_MINUTES });
      expect(stat.dimensions).toEqual(service(id));
    }
    expect(returned(alarm)).toBe(`IF(${total.id} >= 5, FILL(${failed.id}, 0) / ${total.id}, 0)`);
    expect(alarm.props.Threshold).toBe(0.4);
    expect(alarm.props).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expectPages(alarm);
  });

  it.each(llmFunctions)('%s: any breaker opening', (id) => {
    const alarm = alarmOn(METRICS.breakerTransitions.name, service(id));
    expect(alarm.stats).toEqual([
      {
        id: '(single)',
        namespace: 'Tenantic',
        name: 'BreakerTransitions',
        dimensions: { ...service(id), state: 'open' },
        stat: 'Sum',
        period: FIVE_MINUTES,
      },
    ]);
    expect(BREAKER_STATE.open).toBe('open');
    expect(alarm.props.Threshold).toBe(0);
    expect(alarm.props.EvaluationPeriods).toBe(1);
    expectPages(alarm);
  });

  it.each(llmFunctions)('%s: LLM p99 latency above its own threshold, 15 minutes in a row', (id) => {
    const alarm = alarmOn(METRICS.llmLatency.name, service(id));
    expect(alarm.stats).toEqual([
      {
        id: '(single)',
        namespace: 'Tenantic',
        name: 'LlmLatency',
        dimensions: service(id),
        stat: 'p99',
        period: FIVE_MINUTES,
      },
    ]);
    expect(alarm.props.Threshold).toBe(ALARMS.llmLatencyP99Ms[id as keyof typeof ALARMS.llmLatencyP99Ms]);
    expect(alarm.props).toMatchObject({ EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expectPages(alarm);
  });
});

describe('dashboard', () => {
  /** The dashboard body as JSON, each CloudFormation reference written as `@LogicalId`. */
  const body = (): Json => {
    const dashboards = resourcesOfType(stage.apiJson, 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const [, dashboard] = dashboards[0]!;
    expect(dashboard.Properties.DashboardName).toBe('tenantic-acme');
    const [, parts] = dashboard.Properties.DashboardBody['Fn::Join'] as [string, Json[]];
    const text = parts
      .map((part) =>
        typeof part === 'string' ? part : `@${part.Ref ?? (part['Fn::GetAtt'] as string[])[0]}`,
      )
      .join('');
    return JSON.parse(text);
  };
  const widgets = (): Json[] => body().widgets;

  it('shows each alarm in a graph of its own metric and threshold, and all of them in one status widget', () => {
    const all = new Set(alarms().map((alarm) => `@${alarm.logicalId}`));
    const graphed = widgets().flatMap((widget: Json) => widget.properties.annotations?.alarms ?? []);
    expect(graphed.sort()).toEqual([...all].sort());
    const status = widgets().find((widget: Json) => widget.type === 'alarm');
    expect(new Set(status.properties.alarms)).toEqual(all);
  });

  const searches = (): string[] =>
    widgets().flatMap((widget: Json) =>
      (widget.properties.metrics ?? []).flatMap((metric: Json[]) =>
        metric
          .filter((entry) => typeof entry === 'object' && entry.expression)
          .map((entry) => entry.expression),
      ),
    );

  it.each([
    [METRICS.promptTokens.name, 'stage,service,model,provider'],
    [METRICS.completionTokens.name, 'stage,service,model,provider'],
    [METRICS.quotaRefusals.name, 'stage,service,kind'],
  ])('breaks %s down by {%s} within the stage', (name, dimensions) => {
    expect(searches()).toContain(
      `SEARCH('{Tenantic,${dimensions}} MetricName="${name}" stage="acme"', 'Sum', ${FIVE_MINUTES})`,
    );
  });
});
