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
  acme = synthStage(
    'acme',
    configDirWith('acme', {
      corsOrigins: ['https://app.acme.example'],
      llm: {
        defaultModel: 'gpt-4o-mini',
        providers: {
          openai: { models: { 'gpt-4o-mini': {} } },
          local: { baseUrl: 'http://127.0.0.1:11434/v1', models: { 'llama3.2': {} } },
        },
      },
    }),
  );
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

describe('LLM provider keys', () => {
  it('are one secret per provider, apart from the admin key, each an empty placeholder the operator replaces', () => {
    const keys = acme.built.dataStack.data.llmApiKeys;
    expect(Object.keys(keys).sort()).toEqual(['local', 'openai']);
    const ids = Object.values(keys).map((secret) => dataLogicalId(acme.built, secret));
    const adminKey = dataLogicalId(acme.built, acme.built.dataStack.data.adminKey);
    expect(new Set([...ids, adminKey]).size).toBe(3);
    for (const [provider, secret] of Object.entries(keys)) {
      const resource = acme.dataJson.Resources[dataLogicalId(acme.built, secret)];
      expect(resource.Type, provider).toBe('AWS::SecretsManager::Secret');
      expect(JSON.parse(resource.Properties.SecretString), provider).toEqual({ key: '' });
      expect(resource.Properties.GenerateSecretString, provider).toBeUndefined();
      expect(resource.Properties.Description, provider).toContain(`'${provider}'`);
    }
    const prodKeys = Object.values(prod.built.dataStack.data.llmApiKeys);
    expect(prodKeys.length).toBe(1);
    for (const secret of prodKeys) {
      expect(prod.dataJson.Resources[dataLogicalId(prod.built, secret)].DeletionPolicy).toBe('Retain');
    }
  });

  it("keeps the pre-catalogue secret's logical id for the provider named openai", () => {
    // An existing stage's key (put by its operator) must survive the upgrade: same construct path.
    const openai = acme.built.dataStack.data.llmApiKeys.openai!;
    expect(openai.node.path).toBe('Tenantic-acme-Data/Data/LlmApiKey');
  });

  it('names each secret in a stack output, for put-secret-value', () => {
    const outputs = Object.values(acme.dataJson.Outputs as Record<string, { Value: unknown }>);
    for (const secret of Object.values(acme.built.dataStack.data.llmApiKeys)) {
      const id = dataLogicalId(acme.built, secret);
      expect(outputs.some((output) => JSON.stringify(output.Value) === JSON.stringify({ Ref: id }))).toBe(
        true,
      );
    }
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
