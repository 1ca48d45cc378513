// Infra tests: the stateful stack's security-relevant properties, derived from the platform manifest.
import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionDefinition } from '../../functions/platform/functions';
import { QUEUES, type QueueName } from '../../functions/platform/queues';
import { TABLES, type TableName } from '../../functions/platform/tables';
import { loadStageConfig } from '../../lib/config/stages';
import {
  configDirWith,
  dataLogicalId,
  resourcesOfType,
  type SynthesizedStage,
  synthStage,
} from '../helpers/cdk-synth';

const DAY = 86_400;

let acme: SynthesizedStage;
let prod: SynthesizedStage;

beforeAll(() => {
  acme = synthStage('acme', configDirWith('acme', { corsOrigins: ['https://app.acme.example'] }));
  prod = synthStage('prod');
});
afterAll(() => {
  acme?.dispose();
  prod?.dispose();
});

describe('stack names', () => {
  it('names both stacks after an arbitrary stage', () => {
    expect(acme.built.dataStack.stackName).toBe('Tenantic-acme-Data');
    expect(acme.built.apiStack.stackName).toBe('Tenantic-acme-Api');
    expect(
      acme.built.app.node.children
        .filter(Stack.isStack)
        .map((stack) => stack.stackName)
        .sort(),
    ).toEqual(['Tenantic-acme-Api', 'Tenantic-acme-Data']);
  });
});

describe('tables', () => {
  it.each(Object.keys(TABLES) as TableName[])(
    '%s: keys, indexes, TTL, on-demand, PITR, encryption',
    (name) => {
      const definition = TABLES[name];
      const logicalId = dataLogicalId(acme.built, acme.built.dataStack.data.tables[name]);
      const table = acme.dataJson.Resources[logicalId];
      expect(table.Type).toBe('AWS::DynamoDB::Table');
      const props = table.Properties;

      const keys: { AttributeName: string; KeyType: string }[] = [
        { AttributeName: definition.partitionKey, KeyType: 'HASH' },
      ];
      if ('sortKey' in definition) keys.push({ AttributeName: definition.sortKey, KeyType: 'RANGE' });
      expect(props.KeySchema).toEqual(keys);
      expect((props.GlobalSecondaryIndexes ?? []).map((gsi: { IndexName: string }) => gsi.IndexName)).toEqual(
        definition.indexes.map((index) => index.name),
      );
      expect(props.TimeToLiveSpecification).toEqual({
        AttributeName: definition.ttlAttribute,
        Enabled: true,
      });
      expect(props.BillingMode).toBe('PAY_PER_REQUEST');
      expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(props.SSESpecification?.SSEEnabled).toBe(true);
    },
  );

  it('destroys a non-production stage and retains production with deletion protection', () => {
    for (const [, table] of resourcesOfType(acme.dataJson, 'AWS::DynamoDB::Table')) {
      expect(table.DeletionPolicy).toBe('Delete');
      expect(table.Properties.DeletionProtectionEnabled ?? false).toBe(false);
    }
    const prodTables = resourcesOfType(prod.dataJson, 'AWS::DynamoDB::Table');
    expect(prodTables).toHaveLength(Object.keys(TABLES).length);
    for (const [, table] of prodTables) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
  });
});

describe('files bucket', () => {
  it('blocks public access, encrypts, logs access and aborts incomplete uploads', () => {
    acme.data.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
        ]),
      },
    });
  });

  it('takes CORS from the stage config', () => {
    acme.data.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          Match.objectLike({
            AllowedOrigins: ['https://app.acme.example'],
            AllowedMethods: Match.arrayWith(['GET', 'PUT', 'POST', 'HEAD']),
            ExposedHeaders: ['ETag'],
          }),
        ],
      },
    });
  });

  it('denies every request that is not over TLS, on every bucket', () => {
    const buckets = resourcesOfType(acme.dataJson, 'AWS::S3::Bucket').map(([id]) => id);
    const policies = resourcesOfType(acme.dataJson, 'AWS::S3::BucketPolicy');
    for (const bucket of buckets) {
      const policy = policies.find(([, p]) => p.Properties.Bucket.Ref === bucket);
      expect(policy, bucket).toBeDefined();
      expect(policy![1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });
});

describe('bucket deletion', () => {
  const autoDeleted = (stage: SynthesizedStage) =>
    new Set(
      resourcesOfType(stage.dataJson, 'Custom::S3AutoDeleteObjects').map(
        ([, resource]) => resource.Properties.BucketName.Ref as string,
      ),
    );

  it('empties every bucket of a destroyable stage on deletion, so the stack can be destroyed', () => {
    const buckets = resourcesOfType(acme.dataJson, 'AWS::S3::Bucket').map(([id]) => id);
    expect(buckets.length).toBeGreaterThan(0);
    expect(autoDeleted(acme)).toEqual(new Set(buckets));
  });

  it('never empties the buckets of a retained stage', () => {
    expect(autoDeleted(prod)).toEqual(new Set());
  });
});

describe('queues', () => {
  const consumerOf = (queue: QueueName): FunctionDefinition =>
    (Object.values(FUNCTIONS) as FunctionDefinition[]).find((fn) => fn.queues?.[queue] === 'consume')!;

  it.each(Object.keys(QUEUES) as QueueName[])('%s: DLQ redrive, retention order, encryption', (name) => {
    const config = acme.built.config;
    const queueId = dataLogicalId(acme.built, acme.built.dataStack.queues.queues[name]);
    const queue = acme.dataJson.Resources[queueId].Properties;
    const dlqId = queue.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
    const dlq = acme.dataJson.Resources[dlqId].Properties;

    expect(dlqId).not.toBe(queueId);
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(config.queues.maxReceiveCount);
    expect(dlq.MessageRetentionPeriod).toBeGreaterThan(queue.MessageRetentionPeriod);
    expect(queue.MessageRetentionPeriod).toBe(config.queues.retentionDays * DAY);
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * consumerOf(name).timeoutSeconds);
  });

  it('gives each source queue its own DLQ', () => {
    const targets = resourcesOfType(acme.dataJson, 'AWS::SQS::Queue')
      .filter(([, q]) => q.Properties.RedrivePolicy)
      .map(([, q]) => q.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0]);
    expect(targets).toHaveLength(Object.keys(QUEUES).length);
    expect(new Set(targets).size).toBe(targets.length);
  });

  it('denies non-TLS access on every queue', () => {
    const queues = resourcesOfType(acme.dataJson, 'AWS::SQS::Queue').map(([id]) => id);
    const policies = resourcesOfType(acme.dataJson, 'AWS::SQS::QueuePolicy');
    for (const queue of queues) {
      const policy = policies.find(([, p]) =>
        p.Properties.Queues.some((q: { Ref: string }) => q.Ref === queue),
      );
      expect(policy, queue).toBeDefined();
      expect(policy![1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });
});

describe('admin key', () => {
  it('is a generated Secrets Manager secret, retained in production', () => {
    acme.data.hasResource('AWS::SecretsManager::Secret', {
      Properties: Match.objectLike({
        GenerateSecretString: Match.objectLike({ PasswordLength: Match.anyValue() }),
      }),
      DeletionPolicy: 'Delete',
    });
    prod.data.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  });
});

describe('upstream LLM key', () => {
  it('is a secret apart from the admin key, created with an empty placeholder the operator replaces', () => {
    const llmKey = dataLogicalId(acme.built, acme.built.dataStack.data.llmApiKey);
    const adminKey = dataLogicalId(acme.built, acme.built.dataStack.data.adminKey);
    expect(llmKey).not.toBe(adminKey);
    const secret = acme.dataJson.Resources[llmKey];
    expect(secret.Type).toBe('AWS::SecretsManager::Secret');
    expect(JSON.parse(secret.Properties.SecretString)).toEqual({ key: '' });
    expect(secret.Properties.GenerateSecretString).toBeUndefined();
    expect(
      prod.dataJson.Resources[dataLogicalId(prod.built, prod.built.dataStack.data.llmApiKey)].DeletionPolicy,
    ).toBe('Retain');
  });

  it('is marked in the catalogue on exactly the functions that call the LLM', () => {
    const llmFunctions = (Object.entries(FUNCTIONS) as [string, FunctionDefinition][]).filter(
      ([, definition]) => definition.llm,
    );
    expect(llmFunctions.map(([id]) => id).sort()).toEqual(['chat-api', 'chat-worker']);
  });
});

describe('production retention', () => {
  it('keeps logs as long as the prod config says, and retains buckets and queues', () => {
    const config = loadStageConfig('prod');
    const groups = resourcesOfType(prod.apiJson, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(0);
    for (const [, group] of groups) {
      expect(group.Properties.RetentionInDays).toBe(config.logRetentionDays);
      expect(group.DeletionPolicy).toBe('Retain');
    }
    for (const type of ['AWS::S3::Bucket', 'AWS::SQS::Queue']) {
      for (const [, resource] of resourcesOfType(prod.dataJson, type))
        expect(resource.DeletionPolicy).toBe('Retain');
    }
    expect(config.logRetentionDays).toBeGreaterThan(loadStageConfig('acme').logRetentionDays);
  });
});

describe('outputs', () => {
  it('names every table, the bucket, every queue and the admin key secret', () => {
    const values = Object.values(acme.dataJson.Outputs as Record<string, { Value: unknown }>).map(
      (o) => o.Value,
    );
    for (const name of Object.keys(TABLES) as TableName[]) {
      expect(values).toContainEqual({
        Ref: dataLogicalId(acme.built, acme.built.dataStack.data.tables[name]),
      });
    }
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const id = dataLogicalId(acme.built, acme.built.dataStack.queues.queues[name]);
      expect(values).toContainEqual({ Ref: id });
      expect(values).toContainEqual({ 'Fn::GetAtt': [id, 'QueueName'] });
    }
    expect(values).toContainEqual({ Ref: dataLogicalId(acme.built, acme.built.dataStack.data.bucket) });
    expect(values).toContainEqual({ Ref: dataLogicalId(acme.built, acme.built.dataStack.data.adminKey) });
  });
});
