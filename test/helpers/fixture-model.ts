// Test helper: a small hand-built LocalPlatformModel (a table with a GSI and TTL, queues with DLQs, a bucket
// with CORS, functions whose entries are the tiny handlers under test/helpers/fixtures).
import { randomBytes } from 'node:crypto';
import type { LocalAuthorizer, LocalFunction, LocalPlatformModel } from '../../local/model';

const fixture = (
  id: string,
  file: string,
  environment: LocalFunction['environment'] = {},
  timeoutSeconds = 10,
): LocalFunction => ({
  logicalId: `${id.replace(/[^a-z0-9]/gi, '')}Function`,
  id,
  entry: `test/helpers/fixtures/${file}`,
  handler: 'handler',
  timeoutSeconds,
  memoryMb: 256,
  environment,
});

/**
 * A fixture model whose resource names start with a unique prefix, so test files can share one set of
 * emulators without seeing each other's tables and queues.
 *
 * @example
 * const model = buildFixtureModel();
 * await provision(model, clients, endpoints.sqs);
 */
export const buildFixtureModel = (prefix = `fx${randomBytes(3).toString('hex')}`): LocalPlatformModel => {
  const table = `${prefix}-items`;
  const work = `${prefix}-work`;
  const workDlq = `${prefix}-work-dlq`;
  const poison = `${prefix}-poison`;
  const poisonDlq = `${prefix}-poison-dlq`;
  // Upper case on purpose: models name buckets after logical ids, which S3 rejects as they are.
  const bucket = `${prefix}-FilesBucket`;
  const httpAuthorizer: LocalAuthorizer = {
    functionId: 'http-authorizer',
    payloadFormatVersion: '2.0',
    simpleResponses: true,
    identitySource: ['$request.header.Authorization'],
    resultTtlSeconds: 300,
  };
  const uncachedAuthorizer: LocalAuthorizer = { ...httpAuthorizer, resultTtlSeconds: 0 };
  const wsAuthorizer: LocalAuthorizer = {
    functionId: 'ws-authorizer',
    payloadFormatVersion: '1.0',
    simpleResponses: false,
    identitySource: ['route.request.header.Authorization'],
    resultTtlSeconds: 0,
  };
  const consumerEnv = { FIXTURE_TABLE: { kind: 'table', table: 'ItemsTable' } } as const;
  return {
    stage: 'fixture',
    tables: [
      {
        name: table,
        logicalId: 'ItemsTable',
        keySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        attributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi1sk', AttributeType: 'S' },
        ],
        globalSecondaryIndexes: [
          {
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        ttlAttribute: 'ttl',
      },
    ],
    queues: [
      {
        name: work,
        logicalId: 'WorkQueue',
        fifo: false,
        // Long enough for a cold batch on a loaded machine; a shorter one would redeliver successes too.
        visibilityTimeoutSeconds: 5,
        messageRetentionSeconds: 345_600,
        redrive: { deadLetterQueue: workDlq, maxReceiveCount: 5 },
      },
      {
        name: workDlq,
        logicalId: 'WorkDlq',
        fifo: false,
        visibilityTimeoutSeconds: 30,
        messageRetentionSeconds: 1_209_600,
      },
      {
        name: poison,
        logicalId: 'PoisonQueue',
        fifo: false,
        visibilityTimeoutSeconds: 1,
        messageRetentionSeconds: 345_600,
        // By logical id on purpose: the model may refer to a queue either way.
        redrive: { deadLetterQueue: 'PoisonDlq', maxReceiveCount: 2 },
      },
      {
        name: poisonDlq,
        logicalId: 'PoisonDlq',
        fifo: false,
        visibilityTimeoutSeconds: 30,
        messageRetentionSeconds: 1_209_600,
      },
    ],
    buckets: [
      {
        name: bucket,
        logicalId: 'FilesBucket',
        cors: [
          {
            allowedOrigins: ['https://app.example.com'],
            allowedMethods: ['GET', 'PUT', 'POST'],
            allowedHeaders: ['*'],
            exposedHeaders: ['ETag'],
            maxAgeSeconds: 3000,
          },
        ],
      },
    ],
    functions: [
      fixture('echo', 'echo.ts', {
        FIXTURE_NAME: { kind: 'literal', value: 'echo' },
        FIXTURE_TABLE: { kind: 'table', table: 'ItemsTable' },
        FIXTURE_QUEUE_URL: { kind: 'queueUrl', queue: 'WorkQueue' },
        FIXTURE_QUEUE_ARN: { kind: 'queueArn', queue: work },
        FIXTURE_BUCKET: { kind: 'bucket', bucket: 'FilesBucket' },
        ADMIN_KEY_SECRET_ARN: { kind: 'secretArn', secret: 'AdminKeySecret' },
      }),
      fixture('other', 'echo.ts', {
        FIXTURE_NAME: { kind: 'literal', value: 'other' },
        OTHER_ONLY: { kind: 'literal', value: 'only-in-other' },
      }),
      fixture('http-authorizer', 'http-authorizer.ts'),
      fixture('ws-authorizer', 'ws-authorizer.ts'),
      fixture('ws-handler', 'ws-handler.ts', { WS_MANAGEMENT_ENDPOINT: { kind: 'wsManagementEndpoint' } }),
      fixture('work-consumer', 'sqs-consumer.ts', consumerEnv),
      fixture('poison-consumer', 'sqs-consumer.ts', consumerEnv),
      fixture('slow', 'slow.ts', {}, 1),
      fixture('broken-init', 'broken-init.ts'),
    ],
    httpApi: {
      routes: [
        { routeKey: 'GET /echo', functionId: 'echo' },
        { routeKey: 'POST /echo', functionId: 'echo' },
        { routeKey: 'GET /items/{id}', functionId: 'echo' },
        { routeKey: 'GET /items/special', functionId: 'other' },
        { routeKey: 'ANY /files/{path+}', functionId: 'echo' },
        { routeKey: 'GET /boom', functionId: 'echo' },
        { routeKey: 'GET /private/{id}', functionId: 'echo', authorizer: httpAuthorizer },
        { routeKey: 'GET /uncached', functionId: 'echo', authorizer: uncachedAuthorizer },
      ],
      cors: {
        allowOrigins: ['https://app.example.com'],
        allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
        allowHeaders: ['authorization', 'content-type'],
        exposeHeaders: ['x-request-id'],
        maxAgeSeconds: 600,
      },
    },
    webSocketApi: {
      routeSelectionExpression: '$request.body.action',
      routes: [
        { routeKey: '$connect', functionId: 'ws-handler', authorizer: wsAuthorizer },
        { routeKey: '$disconnect', functionId: 'ws-handler' },
        { routeKey: '$default', functionId: 'ws-handler' },
        { routeKey: 'ping', functionId: 'ws-handler' },
      ],
    },
    eventSources: [
      {
        functionId: 'work-consumer',
        queue: 'WorkQueue',
        batchSize: 5,
        maxBatchingWindowSeconds: 1,
        reportBatchItemFailures: true,
      },
      {
        functionId: 'poison-consumer',
        queue: poison,
        batchSize: 1,
        maxBatchingWindowSeconds: 0,
        reportBatchItemFailures: true,
      },
    ],
  };
};
