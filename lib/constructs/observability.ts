// CDK construct: alarms on dead letters, function errors and throttles, sent to one encrypted SNS topic.
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StageConfig } from '../config/stages';

export interface ObservabilityProps {
  readonly config: StageConfig;
  readonly removalPolicy: RemovalPolicy;
  /** By catalogue id. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** By queue name. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
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

/**
 * One alarm per DLQ (any visible message), and per function on Errors (a sustained error rate for the
 * authorizers, see AUTHORIZER_FUNCTIONS) and Throttles; a dashboard of the same.
 *
 * @example
 * new Observability(this, 'Observability', { config, removalPolicy, functions, deadLetterQueues });
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the topic gets its own key
    // whose policy lets CloudWatch use it.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: `Tenantic ${props.config.stage}: alarm topic encryption`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
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
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Tenantic ${props.config.stage} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (props.config.alarmEmail)
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.config.alarmEmail));
    const action = new actions.SnsAction(this.topic);

    const alarms: cloudwatch.Alarm[] = [];
    const widgets: cloudwatch.IWidget[] = [];
    for (const [name, dlq] of Object.entries(props.deadLetterQueues)) {
      const metric = dlq.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      });
      alarms.push(
        new cloudwatch.Alarm(this, `${name}DlqAlarm`, {
          alarmDescription: `Messages of ${name} were dead-lettered (${props.config.stage})`,
          metric,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
      widgets.push(new cloudwatch.GraphWidget({ title: `${name} DLQ`, left: [metric], width: 8 }));
    }
    for (const [fnId, fn] of Object.entries(props.functions)) {
      const errors = fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' });
      const throttles = fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' });
      alarms.push(
        AUTHORIZER_FUNCTIONS.has(fnId)
          ? this.authorizerErrorRateAlarm(fnId, fn, props.config.stage)
          : new cloudwatch.Alarm(this, `${fnId}ErrorsAlarm`, {
              alarmDescription: `${fnId}: errors (${props.config.stage})`,
              metric: errors,
              threshold: 0,
              comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 1,
              treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
            }),
        new cloudwatch.Alarm(this, `${fnId}ThrottlesAlarm`, {
          alarmDescription: `${fnId}: throttles (${props.config.stage})`,
          metric: throttles,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
      widgets.push(new cloudwatch.GraphWidget({ title: fnId, left: [errors, throttles], width: 8 }));
    }
    for (const alarm of alarms) alarm.addAlarmAction(action);
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `tenantic-${props.config.stage}`,
      widgets: [widgets],
    });
  }

  private authorizerErrorRateAlarm(fnId: string, fn: lambda.IFunction, stage: string): cloudwatch.Alarm {
    const period = Duration.minutes(5);
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
    return new cloudwatch.Alarm(this, `${fnId}ErrorRateAlarm`, {
      alarmDescription:
        `${fnId}: more than ${AUTHORIZER_ERROR_RATE * 100} % of invocations failed or refused for ` +
        `${AUTHORIZER_PERIODS * 5} minutes (${stage}); single refusals are expected and not alarmed`,
      metric: rate,
      threshold: AUTHORIZER_ERROR_RATE,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: AUTHORIZER_PERIODS,
      datapointsToAlarm: AUTHORIZER_PERIODS,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
