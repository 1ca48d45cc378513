// CDK construct helper: the one place that turns a stage config and a catalogue entry into a Lambda environment.
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { ENV, providerEnv } from '../../functions/platform/env';
import type { FunctionDefinition, FunctionId } from '../../functions/platform/functions';
import { METRICS_NAMESPACE } from '../../functions/platform/metrics';
import { QUEUES, type QueueName } from '../../functions/platform/queues';
import { TABLES, type TableName } from '../../functions/platform/tables';
import { defaultProviderOf, type StageConfig } from '../config/stages';
import { consumerTimeoutSeconds, VISIBILITY_TIMEOUT_FACTOR } from './queues';

/** The stateful resources a function may be wired to; the catalogue entry picks which. */
export interface PlatformResources {
  readonly tables: Readonly<Record<TableName, ITable>>;
  readonly queues: Readonly<Record<QueueName, IQueue>>;
  readonly bucket: IBucket;
  readonly adminKey: ISecret;
  /**
   * Each LLM provider's key, by provider name, set by the operator (put-secret-value); read only by
   * `llm: true` functions.
   */
  readonly llmApiKeys: Readonly<Record<string, ISecret>>;
  /** `https://{apiId}.execute-api.{region}.{urlSuffix}/{stage}` of the WebSocket API. */
  readonly wsManagementEndpoint: string;
}

/** Settings every function reads through functions/config.ts. */
export const commonEnvironment = (config: StageConfig): Record<string, string> => ({
  [ENV.stage]: config.stage,
  [ENV.logLevel]: config.logLevel,
  [ENV.logSampleRate]: String(config.logSampleRate),
  [ENV.metricsNamespace]: METRICS_NAMESPACE,
  [ENV.secretsMaxAgeSeconds]: String(config.secretsMaxAgeSeconds),
  [ENV.plans]: JSON.stringify(config.plans),
  [ENV.defaultPlan]: config.defaultPlan,
  // Base URLs travel in the catalogue, from the reviewed stage config: nothing a tenant sends can change them.
  [ENV.llmProviders]: JSON.stringify(config.llm.providers),
  [ENV.defaultProvider]: defaultProviderOf(config),
  [ENV.defaultModel]: config.llm.defaultModel,
  [ENV.corsOrigins]: config.corsOrigins.join(','),
  [ENV.maxBodyBytes]: String(config.maxBodyBytes),
  NODE_OPTIONS: '--enable-source-maps',
});

/** Only the resource variables this catalogue entry needs: a function cannot find what it may not touch. */
const resourceEnvironment = (
  definition: FunctionDefinition,
  resources: PlatformResources,
): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const name of Object.keys(definition.tables ?? {}) as TableName[]) {
    env[TABLES[name].envVar] = resources.tables[name].tableName;
  }
  // Consumers get the URL too: changing a message's visibility (retry back-off) needs it; IAM still
  // limits them to consuming.
  for (const name of Object.keys(definition.queues ?? {}) as QueueName[]) {
    env[QUEUES[name].envVar] = resources.queues[name].queueUrl;
  }
  if (definition.bucket) env[ENV.filesBucket] = resources.bucket.bucketName;
  if (definition.adminKey) env[ENV.adminKeySecretArn] = resources.adminKey.secretArn;
  if (definition.llm) {
    for (const [provider, secret] of Object.entries(resources.llmApiKeys)) {
      env[providerEnv(provider).apiKeySecretArn] = secret.secretArn;
    }
  }
  if (definition.wsManagement) env[ENV.wsManagementEndpoint] = resources.wsManagementEndpoint;
  return env;
};

/**
 * The full environment of one function; its catalogue id is its Powertools service name (the `service` of
 * its log lines and the dimension of its metrics).
 *
 * @example
 * new lambda.Function(this, 'Fn', {
 *   environment: functionEnvironment(config, FUNCTIONS['account-api'], resources, 'account-api'),
 * });
 */
export const functionEnvironment = (
  config: StageConfig,
  definition: FunctionDefinition,
  resources: PlatformResources,
  id: FunctionId,
): Record<string, string> => ({
  ...commonEnvironment(config),
  [ENV.serviceName]: id,
  ...resourceEnvironment(definition, resources),
  ...consumerEnvironment(config, definition),
});

/**
 * What a queue consumer needs to back failed messages off and to know a delivery is the last before the
 * DLQ: its queue's maxReceiveCount and visibility timeout (as the Queues construct sets them).
 */
const consumerEnvironment = (config: StageConfig, definition: FunctionDefinition): Record<string, string> => {
  const consumed = (Object.entries(definition.queues ?? {}) as [QueueName, string][]).filter(
    ([, use]) => use === 'consume',
  );
  if (consumed.length === 0) return {};
  if (consumed.length > 1) throw new Error('a function consumes at most one queue');
  const [name] = consumed[0]!;
  return {
    [ENV.queueMaxReceiveCount]: String(config.queues.maxReceiveCount),
    [ENV.queueVisibilityTimeout]: String(VISIBILITY_TIMEOUT_FACTOR * consumerTimeoutSeconds(name)),
  };
};
