// CDK construct: the work queues of the manifest, each with its own dead-letter queue.
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTIONS, type FunctionDefinition } from '../../functions/platform/functions';
import { QUEUES, type QueueName } from '../../functions/platform/queues';
import type { StageConfig } from '../config/stages';

/** AWS's guidance for Lambda consumers: visibility timeout at least six times the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** The timeout of the catalogue function that consumes `queue`; every queue must have exactly one consumer. */
export const consumerTimeoutSeconds = (queue: QueueName): number => {
  const consumers = (Object.values(FUNCTIONS) as FunctionDefinition[]).filter(
    (definition) => definition.queues?.[queue] === 'consume',
  );
  if (consumers.length !== 1) throw new Error(`queue ${queue} has ${consumers.length} consumers; expected 1`);
  return consumers[0]!.timeoutSeconds;
};

export interface QueuesProps {
  readonly config: StageConfig;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * `chat-runs` and `tool-jobs`: SQS-managed encryption, SSL only, redrive after `maxReceiveCount` receives
 * into a DLQ that keeps messages longer than the source does.
 *
 * @example
 * const { queues, deadLetterQueues } = new Queues(this, 'Queues', { config, removalPolicy });
 */
export class Queues extends Construct {
  readonly queues: Readonly<Record<QueueName, sqs.Queue>>;
  readonly deadLetterQueues: Readonly<Record<QueueName, sqs.Queue>>;

  constructor(scope: Construct, id: string, props: QueuesProps) {
    super(scope, id);
    const { queues: settings } = props.config;
    const queues = {} as Record<QueueName, sqs.Queue>;
    const deadLetterQueues = {} as Record<QueueName, sqs.Queue>;
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const definition = QUEUES[name];
      const dlq = new sqs.Queue(this, `${definition.id}Dlq`, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(settings.dlqRetentionDays),
        removalPolicy: props.removalPolicy,
      });
      queues[name] = new sqs.Queue(this, definition.id, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(settings.retentionDays),
        visibilityTimeout: Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * consumerTimeoutSeconds(name)),
        deadLetterQueue: { queue: dlq, maxReceiveCount: settings.maxReceiveCount },
        removalPolicy: props.removalPolicy,
      });
      deadLetterQueues[name] = dlq;
    }
    this.queues = queues;
    this.deadLetterQueues = deadLetterQueues;
  }
}
