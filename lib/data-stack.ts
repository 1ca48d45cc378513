// CDK stack: the stateful half of a stage (tables, bucket, queues, admin and LLM provider keys), retained when
// configured.
import { CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { QUEUES, type QueueName } from '../functions/platform/queues';
import { TABLES, type TableName } from '../functions/platform/tables';
import type { StageConfig } from './config/stages';
import { Data } from './constructs/data';
import { Queues } from './constructs/queues';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
}

/**
 * Everything that holds state, apart from the functions that use it, so the API stack can be replaced freely.
 *
 * @example
 * const data = new DataStack(app, 'Tenantic-dev-Data', { config });
 */
export class DataStack extends Stack {
  readonly data: Data;
  readonly queues: Queues;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const retained = props.config.removalPolicy === 'retain';
    const removalPolicy = retained ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.data = new Data(this, 'Data', { config: props.config, removalPolicy, retained });
    this.queues = new Queues(this, 'Queues', { config: props.config, removalPolicy });

    Validations.of(this.data.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket is the server access log destination of the files bucket; logging it would recurse.',
    });
    Validations.of(this.data.adminKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The admin key is a bearer credential handed to operators out of band; automatic rotation would lock them ' +
        'out without a way to distribute the new key. It is rotated by hand (put-secret-value).',
    });

    for (const secret of Object.values(this.data.llmApiKeys)) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'An upstream LLM key is issued by a third party (OpenAI or another compatible provider); Secrets ' +
          'Manager cannot mint a new one, so a rotation Lambda has nothing to rotate to. The operator rotates ' +
          'it at the provider and stores it with put-secret-value.',
      });
    }

    for (const name of Object.keys(TABLES) as TableName[]) {
      new CfnOutput(this, `${TABLES[name].id}Name`, { value: this.data.tables[name].tableName });
    }
    new CfnOutput(this, 'FilesBucketName', { value: this.data.bucket.bucketName });
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const queue = this.queues.queues[name];
      new CfnOutput(this, `${QUEUES[name].id}Name`, { value: queue.queueName });
      new CfnOutput(this, `${QUEUES[name].id}Url`, { value: queue.queueUrl });
      new CfnOutput(this, `${QUEUES[name].id}DlqName`, {
        value: this.queues.deadLetterQueues[name].queueName,
      });
    }
    new CfnOutput(this, 'AdminKeySecretArn', { value: this.data.adminKey.secretArn });
    for (const [provider, secret] of Object.entries(this.data.llmApiKeys)) {
      new CfnOutput(this, `LlmApiKeySecretArn-${provider}`, {
        description: `Secrets Manager secret of LLM provider '${provider}': put its API key here`,
        value: secret.secretArn,
      });
    }
  }
}
