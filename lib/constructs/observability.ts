// CDK construct: a stage's alarms (APIs, functions, LLM health, dead letters) sent to one encrypted SNS
// topic, and one dashboard showing each of them plus token use per model and quota refusals.
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../../functions/platform/functions';
import {
  BREAKER_STATE,
  DIMENSION,
  type DimensionName,
  METRICS,
  type MetricDefinition,
} from '../../functions/platform/metrics';
import { WS_ROUTES } from '../../functions/platform/routes';
import type { StageConfig } from '../config/stages';
import { catalogueMetric, catalogueSearch } from './catalogue-metrics';

export interface ObservabilityProps {
  readonly config: StageConfig;
  readonly removalPolicy: RemovalPolicy;
  /** By catalogue id. */
  readonly functions: Readonly<Record<FunctionId, lambda.IFunction>>;
  /** By queue name. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** The HTTP API: its 5xx rate alarms. */
  readonly httpApi: apigw.IHttpApi;
  /** The WebSocket API's stage: its execution-error rate alarms. */
  readonly webSocketStage: apigw.IWebSocketStage;
}

/**
 * Authorizer functions, whose Errors metric is not a bug signal. `authorizer-ws` throws
 * `Error('Unauthorized')` for every connect without a valid key (API Gateway's only way to answer 401),
 * and `authorizer-http` throws on purpose when DynamoDB or Secrets Manager fail for a moment (so that
 * API Gateway caches no refusal). Errors > 0 would page on every anonymous connect and every blip; they
 * alarm instead on a sustained error rate: more than half of at least AUTHORIZER_MIN_INVOCATIONS
 * invocations per 5 minutes, three periods in a row. That catches an outage (a broken deployment or a
 * failing table refuses nearly everyone) and a flood of bad credentials, not single refusals.
 */
export const AUTHORIZER_FUNCTIONS: ReadonlySet<string> = new Set(['authorizer-http', 'authorizer-ws']);
const AUTHORIZER_MIN_INVOCATIONS = 20;
const AUTHORIZER_ERROR_RATE = 0.5;
const AUTHORIZER_PERIODS = 3;

/** Every alarm but the DLQ's judges 5-minute periods. */
const ALARM_PERIOD = Duration.minutes(5);
/** API error rates page on 2 bad periods of 3: users see these failures, 10 minutes is long enough. */
const API_ERROR_PERIODS = { evaluationPeriods: 3, datapointsToAlarm: 2 } as const;
/**
 * Latencies and the degraded rate page on 3 bad periods in a row: one slow or degraded stretch is the
 * provider's weather, 15 minutes of it is ours to act on.
 */
const SUSTAINED_PERIODS = { evaluationPeriods: 3, datapointsToAlarm: 3 } as const;

/** The catalogue functions that call an LLM: the ones that emit LlmAnswers, LlmLatency, breaker moves. */
const LLM_FUNCTIONS: readonly FunctionId[] = (Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][])
  .filter(([, definition]) => definition.llm === true)
  .map(([fnId]) => fnId);

/** The functions behind the WebSocket routes: their invocations are the WebSocket API's traffic. */
const WS_ROUTE_FUNCTIONS: readonly FunctionId[] = [...new Set(WS_ROUTES.map((route) => route.function))];

/** p99 Duration threshold of a function: a share of its own timeout, in milliseconds. */
const durationThresholdMs = (fnId: FunctionId, config: StageConfig): number =>
  Math.round(FUNCTIONS[fnId].timeoutSeconds * 1000 * config.alarms.durationP99OfTimeout);

/**
 * The stage's alarms, each sent to one KMS-encrypted topic (email from the stage config's `alarmEmail`),
 * and a dashboard `tenantic-<stage>` with a widget per alarm. What pages and why: docs/operations-alarms.md.
 *
 * @example
 * new Observability(this, 'Observability', {
 *   config, removalPolicy, functions, deadLetterQueues, httpApi: api.api, webSocketStage: ws.stage,
 * });
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly config: StageConfig;
  /** Rows of the dashboard, by section, in the order they are added. */
  private readonly sections: { title: string; widgets: cloudwatch.IWidget[] }[] = [];
  private readonly created: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.config = props.config;
    this.topic = this.alarmTopic(props.removalPolicy);

    this.apiAlarms(props);
    for (const fnId of Object.keys(props.functions) as FunctionId[]) {
      this.functionAlarms(fnId, props.functions[fnId]);
    }
    for (const fnId of LLM_FUNCTIONS) this.llmAlarms(fnId);
    this.deadLetterAlarms(props.deadLetterQueues);

    const action = new actions.SnsAction(this.topic);
    for (const alarm of this.created) alarm.addAlarmAction(action);
    this.alarms = this.created;
    this.dashboard = this.buildDashboard();
  }

  private alarmTopic(removalPolicy: RemovalPolicy): sns.Topic {
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the topic gets its own key
    // whose policy lets CloudWatch use it.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: `Tenantic ${this.config.stage}: alarm topic encryption`,
      enableKeyRotation: true,
      removalPolicy,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        // Only CloudWatch acting for this account's alarms: a service principal alone would let it use the
        // key on behalf of any account (the confused-deputy problem).
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Tenantic ${this.config.stage} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (this.config.alarmEmail)
      topic.addSubscription(new subscriptions.EmailSubscription(this.config.alarmEmail));
    return topic;
  }

  /** An alarm, and its widget (its metric and threshold) in the dashboard's `section`. */
  private alarm(section: string, title: string, id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    this.created.push(alarm);
    let row = this.sections.find((candidate) => candidate.title === section);
    if (!row) {
      row = { title: section, widgets: [] };
      this.sections.push(row);
    }
    row.widgets.push(new cloudwatch.AlarmWidget({ alarm, title, width: 6, height: 5 }));
    return alarm;
  }

  /**
   * The rate `failed / total`, judged only from `minimum` of `total` per period on: below it the expression
   * reports 0, so one failed request of two at 3 a.m. pages nobody.
   */
  private guardedRate(
    failed: cloudwatch.IMetric,
    total: cloudwatch.IMetric,
    minimum: number,
    label: string,
  ): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      // FILL: a period with traffic but no data point of failures is a period without failures.
      expression: `IF(total >= ${minimum}, FILL(failed, 0) / total, 0)`,
      usingMetrics: { failed, total },
      label,
      period: ALARM_PERIOD,
    });
  }

  private apiAlarms(props: ObservabilityProps): void {
    const { stage, alarms } = this.config;
    const period = ALARM_PERIOD;
    // The HTTP API has exactly one stage (`$default`), so the per-API series (dimension ApiId) is the
    // stage's, without depending on how `$default` is spelled in the Stage dimension.
    const httpRate = this.guardedRate(
      props.httpApi.metric('5xx', { statistic: 'Sum', period }),
      props.httpApi.metric('Count', { statistic: 'Sum', period }),
      alarms.apiMinRequests,
      'HTTP 5xx rate',
    );
    this.alarm('APIs', 'HTTP API 5xx rate', 'HttpApi5xxRateAlarm', {
      alarmDescription:
        `HTTP API 5xx rate: above ${alarms.apiErrorRate * 100} % of at least ${alarms.apiMinRequests} ` +
        `requests per 5 minutes, 2 periods of 3 (${stage})`,
      metric: httpRate,
      threshold: alarms.apiErrorRate,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...API_ERROR_PERIODS,
      // No data means no requests: nothing failed. The guard already turns thin traffic into 0.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // WebSocket: ExecutionError counts what we failed to run (the function crashed, timed out, was
    // throttled or could not be invoked). IntegrationError is not used: it also counts the 4xx our handlers
    // answer on purpose (429 on a full concurrent_connections quota, 401/403 for a key gone bad), with no way
    // to tell them from a 5xx. The denominator is the route functions' invocations, not MessageCount,
    // which also counts every frame posted to clients and would dilute the rate by each streamed token.
    const invocations = Object.fromEntries(
      WS_ROUTE_FUNCTIONS.map((fnId, index) => [
        `fn${index}`,
        props.functions[fnId].metricInvocations({ statistic: 'Sum', period }),
      ]),
    );
    const wsRequests = new cloudwatch.MathExpression({
      expression: Object.keys(invocations)
        .map((name) => `FILL(${name}, 0)`)
        .join(' + '),
      usingMetrics: invocations,
      label: 'WebSocket route invocations',
      period,
    });
    const wsRate = this.guardedRate(
      props.webSocketStage.metric('ExecutionError', { statistic: 'Sum', period }),
      wsRequests,
      alarms.apiMinRequests,
      'WebSocket execution error rate',
    );
    this.alarm('APIs', 'WebSocket execution error rate', 'WebSocketApiErrorRateAlarm', {
      alarmDescription:
        `WebSocket API execution error rate: above ${alarms.apiErrorRate * 100} % of at least ` +
        `${alarms.apiMinRequests} route invocations per 5 minutes, 2 periods of 3 (${stage})`,
      metric: wsRate,
      threshold: alarms.apiErrorRate,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...API_ERROR_PERIODS,
      // No data means no messages: nothing failed.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private functionAlarms(fnId: FunctionId, fn: lambda.IFunction): void {
    const { stage } = this.config;
    const period = ALARM_PERIOD;
    const section = `Function ${fnId}`;
    if (AUTHORIZER_FUNCTIONS.has(fnId)) {
      this.authorizerErrorRateAlarm(section, fnId, fn);
    } else {
      this.alarm(section, `${fnId} errors`, `${fnId}ErrorsAlarm`, {
        alarmDescription: `${fnId}: errors (${stage})`,
        metric: fn.metricErrors({ period, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // Lambda publishes Errors only for periods with invocations: none means none failed.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.alarm(section, `${fnId} throttles`, `${fnId}ThrottlesAlarm`, {
      alarmDescription: `${fnId}: throttles (${stage})`,
      metric: fn.metricThrottles({ period, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // As for Errors: no data point, no throttled invocation.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const threshold = durationThresholdMs(fnId, this.config);
    this.alarm(section, `${fnId} p99 duration`, `${fnId}DurationP99Alarm`, {
      alarmDescription:
        `${fnId}: p99 duration above ${threshold} ms (${this.config.alarms.durationP99OfTimeout * 100} % of ` +
        `its ${FUNCTIONS[fnId].timeoutSeconds} s timeout) for 15 minutes (${stage})`,
      metric: fn.metricDuration({ period, statistic: 'p99' }),
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...SUSTAINED_PERIODS,
      // An idle function has no duration; an idle period must not hold or raise the alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private authorizerErrorRateAlarm(section: string, fnId: string, fn: lambda.IFunction): cloudwatch.Alarm {
    const period = ALARM_PERIOD;
    const rate = new cloudwatch.MathExpression({
      // Below the minimum volume the rate says nothing (one refused connect of two is 50 %): report 0.
      expression: `IF(invocations >= ${AUTHORIZER_MIN_INVOCATIONS}, errors / invocations, 0)`,
      usingMetrics: {
        errors: fn.metricErrors({ period, statistic: 'Sum' }),
        invocations: fn.metricInvocations({ period, statistic: 'Sum' }),
      },
      label: `${fnId} error rate`,
      period,
    });
    return this.alarm(section, `${fnId} error rate`, `${fnId}ErrorRateAlarm`, {
      alarmDescription:
        `${fnId}: more than ${AUTHORIZER_ERROR_RATE * 100} % of invocations failed or refused for ` +
        `${AUTHORIZER_PERIODS * 5} minutes (${this.config.stage}); single refusals are expected and not alarmed`,
      metric: rate,
      threshold: AUTHORIZER_ERROR_RATE,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: AUTHORIZER_PERIODS,
      datapointsToAlarm: AUTHORIZER_PERIODS,
      // No invocations, no refusals.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Degraded answers, breaker opens and LLM latency of one LLM function, from the metric catalogue. */
  private llmAlarms(fnId: FunctionId): void {
    const { stage, alarms } = this.config;
    const period = ALARM_PERIOD;
    const section = 'LLM';
    const service = { [DIMENSION.stage]: stage, [DIMENSION.service]: fnId };

    const degradedRate = this.guardedRate(
      catalogueMetric(METRICS.degradedAnswers, service, { statistic: 'Sum', period }),
      catalogueMetric(METRICS.llmAnswers, service, { statistic: 'Sum', period }),
      alarms.llmMinAnswers,
      `${fnId} degraded answer rate`,
    );
    this.alarm(section, `${fnId} degraded answer rate`, `${fnId}DegradedAnswerRateAlarm`, {
      alarmDescription:
        `${fnId}: degraded answers (fallback model or rule-based) above ${alarms.degradedAnswerRate * 100} % ` +
        `of at least ${alarms.llmMinAnswers} answers per 5 minutes, for 15 minutes (${stage})`,
      metric: degradedRate,
      threshold: alarms.degradedAnswerRate,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...SUSTAINED_PERIODS,
      // No answers, nothing degraded; thin traffic is already reported as 0 by the guard.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.alarm(section, `${fnId} breaker opens`, `${fnId}BreakerOpensAlarm`, {
      alarmDescription: `${fnId}: a provider's circuit breaker opened (${stage})`,
      metric: catalogueMetric(
        METRICS.breakerTransitions,
        { ...service, [DIMENSION.state]: BREAKER_STATE.open },
        { statistic: 'Sum', period },
      ),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // Transitions are published only when they happen: a missing point is the normal, closed state.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const latencyMs = alarms.llmLatencyP99Ms[fnId];
    if (latencyMs === undefined) throw new Error(`${stage}: alarms.llmLatencyP99Ms has no '${fnId}'`);
    this.alarm(section, `${fnId} LLM p99 latency`, `${fnId}LlmLatencyP99Alarm`, {
      alarmDescription: `${fnId}: LLM call p99 latency above ${latencyMs} ms for 15 minutes (${stage})`,
      metric: catalogueMetric(METRICS.llmLatency, service, { statistic: 'p99', period }),
      threshold: latencyMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...SUSTAINED_PERIODS,
      // No LLM call, no latency: an idle period neither raises nor holds the alarm.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private deadLetterAlarms(deadLetterQueues: Readonly<Record<string, sqs.IQueue>>): void {
    for (const [name, dlq] of Object.entries(deadLetterQueues)) {
      this.alarm('Dead-letter queues', `${name} DLQ depth`, `${name}DlqAlarm`, {
        alarmDescription: `${name} DLQ: messages were dead-lettered (${this.config.stage})`,
        metric: dlq.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // SQS may stop reporting a queue idle for hours: a gap is an empty, quiet DLQ, not a dead letter.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
  }

  private buildDashboard(): cloudwatch.Dashboard {
    const { stage } = this.config;
    const graph = (title: string, definition: MetricDefinition, by: DimensionName) =>
      new cloudwatch.GraphWidget({
        title,
        left: [catalogueSearch(definition, by, stage, 'Sum', ALARM_PERIOD)],
        width: 8,
      });
    const usage = [
      graph('Prompt tokens per model (and function)', METRICS.promptTokens, DIMENSION.model),
      graph('Completion tokens per model (and function)', METRICS.completionTokens, DIMENSION.model),
      graph('Quota refusals by kind (and function)', METRICS.quotaRefusals, DIMENSION.kind),
    ];
    const rows: cloudwatch.IWidget[][] = [
      [
        new cloudwatch.AlarmStatusWidget({
          title: `Tenantic ${stage}: every alarm`,
          alarms: [...this.created],
          width: 24,
        }),
      ],
      ...this.sections.map(({ title, widgets }) => [
        new cloudwatch.TextWidget({ markdown: `## ${title}`, width: 24, height: 1 }),
        ...widgets,
      ]),
      [new cloudwatch.TextWidget({ markdown: '## Usage', width: 24, height: 1 }), ...usage],
    ];
    return new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `tenantic-${stage}`, widgets: rows });
  }
}
