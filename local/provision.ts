// Local platform: creates the model's tables, queues and buckets in the emulators (idempotently) and
// reads back what the emulators hold, in the model's own shapes, so a test can prove there is no drift.
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type ProjectionType,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type CORSRule,
  CreateBucketCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { queueUrlOnEndpoint } from './clients';
import type { LocalBucket, LocalPlatformModel, LocalQueue, LocalTable } from './model';

export interface ProvisionClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
}

interface ProvisionedQueue {
  readonly name: string;
  /** URL on the SQS emulator's endpoint (see queueUrlOnEndpoint). */
  readonly url: string;
  /** ARN as the emulator reports it. */
  readonly arn: string;
}

/** The local addresses of what the model declares; queues are keyed by name and by logical id. */
export interface ProvisionedResources {
  readonly tables: ReadonlyMap<string, string>;
  readonly queues: ReadonlyMap<string, ProvisionedQueue>;
  readonly buckets: ReadonlyMap<string, string>;
}

/** What the emulators hold, in the model's shapes (without logical ids, which the emulators do not know). */
export interface ProvisionedDescription {
  readonly tables: Omit<LocalTable, 'logicalId'>[];
  readonly queues: Omit<LocalQueue, 'logicalId'>[];
  readonly buckets: Omit<LocalBucket, 'logicalId'>[];
}

const byNameOrLogicalId = <T extends { name: string; logicalId: string }>(
  items: readonly T[],
  ref: string,
  kind: string,
): T => {
  const found = items.find((item) => item.name === ref) ?? items.find((item) => item.logicalId === ref);
  if (!found) throw new Error(`the model refers to an unknown ${kind} '${ref}'`);
  return found;
};

/** Finds a model queue by its name or its logical id (references in the model may use either). */
export const findQueue = (model: LocalPlatformModel, ref: string): LocalQueue =>
  byNameOrLogicalId(model.queues, ref, 'queue');

/**
 * The bucket's name in the S3 emulator. A model may name buckets after their logical ids
 * (`DataFilesBucketB56395FD`), which S3 rejects; the local name is the S3-valid form of it.
 *
 * @example
 * localBucketName('DataFilesBucketB56395FD'); // 'datafilesbucketb56395fd'
 */
export const localBucketName = (name: string): string => {
  const valid = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 63);
  return valid.length >= 3 ? valid : `${valid}-bucket`.replace(/^-/, 'b');
};

const provisionTable = async (dynamodb: DynamoDBClient, table: LocalTable): Promise<void> => {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: table.name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: table.keySchema.map((key) => ({ ...key })),
        AttributeDefinitions: table.attributeDefinitions.map((attribute) => ({ ...attribute })),
        ...(table.globalSecondaryIndexes.length > 0
          ? {
              GlobalSecondaryIndexes: table.globalSecondaryIndexes.map((index) => ({
                IndexName: index.IndexName,
                KeySchema: index.KeySchema.map((key) => ({ ...key })),
                Projection: {
                  ProjectionType: index.Projection.ProjectionType as ProjectionType,
                  ...(index.Projection.NonKeyAttributes
                    ? { NonKeyAttributes: [...index.Projection.NonKeyAttributes] }
                    : {}),
                },
              })),
            }
          : {}),
      }),
    );
  } catch (error) {
    // A table from a persisted data dir is kept as it is, items included.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  if (table.ttlAttribute) {
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table.name }));
    const current = ttl.TimeToLiveDescription;
    if (current?.TimeToLiveStatus !== 'ENABLED' || current.AttributeName !== table.ttlAttribute) {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: table.name,
          TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
};

const queueAttributes = (queue: LocalQueue, deadLetterArn: string | undefined): Record<string, string> => ({
  VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
  MessageRetentionPeriod: String(queue.messageRetentionSeconds),
  ...(queue.redrive && deadLetterArn
    ? {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: deadLetterArn,
          maxReceiveCount: queue.redrive.maxReceiveCount,
        }),
      }
    : {}),
});

const provisionQueue = async (
  sqs: SQSClient,
  endpoint: string,
  queue: LocalQueue,
  deadLetterArn: string | undefined,
): Promise<ProvisionedQueue> => {
  const attributes = queueAttributes(queue, deadLetterArn);
  let url: string;
  try {
    const existing = await sqs.send(new GetQueueUrlCommand({ QueueName: queue.name }));
    url = queueUrlOnEndpoint(endpoint, existing.QueueUrl!);
    // Kept with its messages, but brought to the model's settings (as a stack update would).
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  } catch (error) {
    if (!(error instanceof QueueDoesNotExist) && (error as { name?: string }).name !== 'QueueDoesNotExist') {
      throw error;
    }
    const created = await sqs.send(
      new CreateQueueCommand({
        QueueName: queue.name,
        Attributes: { ...attributes, ...(queue.fifo ? { FifoQueue: 'true' } : {}) },
      }),
    );
    url = queueUrlOnEndpoint(endpoint, created.QueueUrl!);
  }
  const read = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { name: queue.name, url, arn: read.Attributes!.QueueArn! };
};

const provisionBucket = async (s3: S3Client, bucket: LocalBucket): Promise<void> => {
  const name = localBucketName(bucket.name);
  try {
    await s3.send(new HeadBucketCommand({ Bucket: name }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  }
  if (bucket.cors.length > 0) {
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: name,
        CORSConfiguration: {
          CORSRules: bucket.cors.map((rule) => ({
            AllowedOrigins: [...rule.allowedOrigins],
            AllowedMethods: [...rule.allowedMethods],
            ...(rule.allowedHeaders.length > 0 ? { AllowedHeaders: [...rule.allowedHeaders] } : {}),
            ...(rule.exposedHeaders.length > 0 ? { ExposeHeaders: [...rule.exposedHeaders] } : {}),
            ...(rule.maxAgeSeconds !== undefined ? { MaxAgeSeconds: rule.maxAgeSeconds } : {}),
          })),
        },
      }),
    );
  }
};

/**
 * Creates every table (keys, GSIs, TTL), queue (DLQs first, redrive to the DLQ's emulator ARN) and bucket
 * (CORS) of the model. Safe to run again: what already exists is kept.
 *
 * @example
 * const resources = await provision(model, clients, emulators.endpoints.sqs);
 * resources.queues.get('tenantic-dev-chat-runs')?.url;
 */
export const provision = async (
  model: LocalPlatformModel,
  clients: ProvisionClients,
  sqsEndpoint: string,
): Promise<ProvisionedResources> => {
  const queues = new Map<string, ProvisionedQueue>();
  const remember = (queue: LocalQueue, provisioned: ProvisionedQueue): void => {
    queues.set(queue.name, provisioned);
    queues.set(queue.logicalId, provisioned);
  };
  const deadLetterRefs = new Set(
    model.queues.flatMap((queue) => (queue.redrive ? [queue.redrive.deadLetterQueue] : [])),
  );
  const deadLetterQueues = model.queues.filter(
    (queue) => deadLetterRefs.has(queue.name) || deadLetterRefs.has(queue.logicalId),
  );
  const sourceQueues = model.queues.filter((queue) => !deadLetterQueues.includes(queue));

  await Promise.all([
    ...model.tables.map((table) => provisionTable(clients.dynamodb, table)),
    ...model.buckets.map((bucket) => provisionBucket(clients.s3, bucket)),
    (async () => {
      for (const queue of deadLetterQueues) {
        remember(queue, await provisionQueue(clients.sqs, sqsEndpoint, queue, undefined));
      }
      for (const queue of sourceQueues) {
        const deadLetter = queue.redrive
          ? queues.get(findQueue(model, queue.redrive.deadLetterQueue).name)
          : undefined;
        remember(queue, await provisionQueue(clients.sqs, sqsEndpoint, queue, deadLetter?.arn));
      }
    })(),
  ]);

  const tables = new Map<string, string>();
  for (const table of model.tables) {
    tables.set(table.name, table.name);
    tables.set(table.logicalId, table.name);
  }
  const buckets = new Map<string, string>();
  for (const bucket of model.buckets) {
    buckets.set(bucket.name, localBucketName(bucket.name));
    buckets.set(bucket.logicalId, localBucketName(bucket.name));
  }
  return { tables, queues, buckets };
};

const describeTable = async (
  dynamodb: DynamoDBClient,
  name: string,
): Promise<Omit<LocalTable, 'logicalId'>> => {
  const { Table: table } = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
  const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: name }));
  const ttlAttribute =
    ttl.TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED'
      ? ttl.TimeToLiveDescription.AttributeName
      : undefined;
  return {
    name,
    keySchema: (table?.KeySchema ?? []).map((key) => ({
      AttributeName: key.AttributeName!,
      KeyType: key.KeyType as 'HASH' | 'RANGE',
    })),
    attributeDefinitions: (table?.AttributeDefinitions ?? []).map((attribute) => ({
      AttributeName: attribute.AttributeName!,
      AttributeType: attribute.AttributeType as 'S' | 'N' | 'B',
    })),
    globalSecondaryIndexes: (table?.GlobalSecondaryIndexes ?? []).map((index) => ({
      IndexName: index.IndexName!,
      KeySchema: (index.KeySchema ?? []).map((key) => ({
        AttributeName: key.AttributeName!,
        KeyType: key.KeyType as 'HASH' | 'RANGE',
      })),
      Projection: {
        ProjectionType: index.Projection?.ProjectionType ?? 'ALL',
        ...(index.Projection?.NonKeyAttributes
          ? { NonKeyAttributes: index.Projection.NonKeyAttributes }
          : {}),
      },
    })),
    ...(ttlAttribute ? { ttlAttribute } : {}),
  };
};

const describeQueue = async (
  model: LocalPlatformModel,
  sqs: SQSClient,
  sqsEndpoint: string,
  queue: LocalQueue,
): Promise<Omit<LocalQueue, 'logicalId'>> => {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue.name }));
  const { Attributes: attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrlOnEndpoint(sqsEndpoint, QueueUrl!),
      AttributeNames: ['All'],
    }),
  );
  let redrive: LocalQueue['redrive'];
  if (attributes.RedrivePolicy) {
    const policy = JSON.parse(attributes.RedrivePolicy) as {
      deadLetterTargetArn: string;
      maxReceiveCount: string | number;
    };
    const targetName = policy.deadLetterTargetArn.split(':').at(-1)!;
    // Report the dead-letter queue the way the model refers to it (by name or by logical id).
    const target = model.queues.find((candidate) => candidate.name === targetName);
    const ref =
      target && queue.redrive?.deadLetterQueue === target.logicalId
        ? target.logicalId
        : (target?.name ?? targetName);
    redrive = { deadLetterQueue: ref, maxReceiveCount: Number(policy.maxReceiveCount) };
  }
  return {
    name: queue.name,
    fifo: attributes.FifoQueue === 'true',
    visibilityTimeoutSeconds: Number(attributes.VisibilityTimeout),
    messageRetentionSeconds: Number(attributes.MessageRetentionPeriod),
    ...(redrive ? { redrive } : {}),
  };
};

const describeBucket = async (s3: S3Client, name: string): Promise<Omit<LocalBucket, 'logicalId'>> => {
  let corsRules: CORSRule[] = [];
  try {
    corsRules = (await s3.send(new GetBucketCorsCommand({ Bucket: localBucketName(name) }))).CORSRules ?? [];
  } catch (error) {
    if ((error as { name?: string }).name !== 'NoSuchCORSConfiguration') throw error;
  }
  return {
    name,
    cors: corsRules.map((rule) => ({
      allowedOrigins: rule.AllowedOrigins ?? [],
      allowedMethods: rule.AllowedMethods ?? [],
      allowedHeaders: rule.AllowedHeaders ?? [],
      exposedHeaders: rule.ExposeHeaders ?? [],
      ...(rule.MaxAgeSeconds !== undefined ? { maxAgeSeconds: rule.MaxAgeSeconds } : {}),
    })),
  };
};

/**
 * Reads back, from the emulators, every resource the model declares (DescribeTable, GetQueueAttributes,
 * GetBucketCors), in the model's shapes.
 *
 * @example
 * const held = await describeProvisioned(model, clients, emulators.endpoints.sqs);
 * expect(held.tables[0]?.ttlAttribute).toBe(model.tables[0]?.ttlAttribute);
 */
export const describeProvisioned = async (
  model: LocalPlatformModel,
  clients: ProvisionClients,
  sqsEndpoint: string,
): Promise<ProvisionedDescription> => {
  const [tables, queues, buckets] = await Promise.all([
    Promise.all(model.tables.map((table) => describeTable(clients.dynamodb, table.name))),
    Promise.all(model.queues.map((queue) => describeQueue(model, clients.sqs, sqsEndpoint, queue))),
    Promise.all(model.buckets.map((bucket) => describeBucket(clients.s3, bucket.name))),
  ]);
  return { tables, queues, buckets };
};
