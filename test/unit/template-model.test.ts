// Unit tests: modelFromTemplates on small hand-written templates (no CDK): intrinsics and cross-stack imports.
import { describe, expect, it } from 'vitest';
import { type CfnTemplate, modelFromTemplates, TemplateModelError } from '../../local/template-model';

const fnArn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const lambdaUri = (id: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':apigateway:',
      { Ref: 'AWS::Region' },
      ':lambda:path/',
      fnArn(id),
      '/invocations',
    ],
  ],
});

const data = (): CfnTemplate => ({
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        TimeToLiveSpecification: { AttributeName: 'expires', Enabled: true },
      },
    },
    Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 900 } },
    Work: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        VisibilityTimeout: 60,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 4 },
      },
    },
    Secret: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
    Files: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        LoggingConfiguration: { DestinationBucketName: { Ref: 'Logs' } },
        CorsConfiguration: {
          CorsRules: [{ AllowedOrigins: ['https://a.example'], AllowedMethods: ['GET'] }],
        },
      },
    },
    Logs: { Type: 'AWS::S3::Bucket', Properties: {} },
  },
  Outputs: {
    TableName: { Value: { Ref: 'Table' }, Export: { Name: 'data:table' } },
    WorkUrl: { Value: { Ref: 'Work' }, Export: { Name: 'data:work-url' } },
    WorkArn: { Value: { 'Fn::GetAtt': ['Work', 'Arn'] }, Export: { Name: 'data:work-arn' } },
    SecretArn: { Value: { Ref: 'Secret' }, Export: { Name: 'data:secret' } },
  },
});

const api = (environment: Record<string, unknown>): CfnTemplate => ({
  Resources: {
    Fn: {
      Type: 'AWS::Lambda::Function',
      Properties: { Timeout: 7, Environment: { Variables: environment } },
      Metadata: { 'Tenantic:Function': { id: 'worker', entry: 'functions/worker.ts', handler: 'main' } },
    },
    Helper: { Type: 'AWS::Lambda::Function', Properties: {} },
    Http: { Type: 'AWS::ApiGatewayV2::Api', Properties: { ProtocolType: 'HTTP' } },
    HttpIntegration: { Type: 'AWS::ApiGatewayV2::Integration', Properties: { IntegrationUri: fnArn('Fn') } },
    Auth: {
      Type: 'AWS::ApiGatewayV2::Authorizer',
      Properties: {
        AuthorizerUri: lambdaUri('Fn'),
        AuthorizerPayloadFormatVersion: '2.0',
        IdentitySource: ['$request.header.X'],
      },
    },
    HttpRoute: {
      Type: 'AWS::ApiGatewayV2::Route',
      Properties: {
        ApiId: { Ref: 'Http' },
        RouteKey: 'GET /x',
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: 'Auth' },
        Target: { 'Fn::Join': ['', ['integrations/', { Ref: 'HttpIntegration' }]] },
      },
    },
    Ws: {
      Type: 'AWS::ApiGatewayV2::Api',
      Properties: { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.a' },
    },
    WsIntegration: {
      Type: 'AWS::ApiGatewayV2::Integration',
      Properties: { IntegrationUri: lambdaUri('Fn') },
    },
    WsRoute: {
      Type: 'AWS::ApiGatewayV2::Route',
      Properties: {
        ApiId: { Ref: 'Ws' },
        RouteKey: '$default',
        Target: { 'Fn::Join': ['', ['integrations/', { Ref: 'WsIntegration' }]] },
      },
    },
    Mapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { FunctionName: { Ref: 'Fn' }, EventSourceArn: { 'Fn::ImportValue': 'data:work-arn' } },
    },
  },
});

describe('modelFromTemplates', () => {
  it('resolves every kind of environment value, following imports into the other stack', () => {
    // Prepare
    const templates = {
      Data: data(),
      Api: api({
        PLAIN: 'x',
        JOINED: { 'Fn::Join': ['', ['a', 'b']] },
        TABLE: { 'Fn::ImportValue': 'data:table' },
        QUEUE_URL: { 'Fn::ImportValue': 'data:work-url' },
        QUEUE_ARN: { 'Fn::ImportValue': 'data:work-arn' },
        SECRET: { 'Fn::ImportValue': 'data:secret' },
        ENDPOINT: {
          'Fn::Join': ['', ['https://', { Ref: 'Ws' }, '.execute-api.', { Ref: 'AWS::Region' }, '/s']],
        },
      }),
    };
    // Act
    const model = modelFromTemplates(templates, 's');
    // Assess
    expect(model.functions).toHaveLength(1);
    expect(model.functions[0]).toMatchObject({
      id: 'worker',
      entry: 'functions/worker.ts',
      handler: 'main',
      timeoutSeconds: 7,
    });
    expect(model.functions[0]!.environment).toEqual({
      PLAIN: { kind: 'literal', value: 'x' },
      JOINED: { kind: 'literal', value: 'ab' },
      TABLE: { kind: 'table', table: 'Table' },
      QUEUE_URL: { kind: 'queueUrl', queue: 'Work' },
      QUEUE_ARN: { kind: 'queueArn', queue: 'Work' },
      SECRET: { kind: 'secretArn', secret: 'Secret' },
      ENDPOINT: { kind: 'wsManagementEndpoint' },
    });
  });

  it('applies the services defaults where a template leaves a property out', () => {
    const model = modelFromTemplates({ Data: data(), Api: api({}) }, 's');
    expect(model.queues.find((q) => q.name === 'Dlq')).toMatchObject({
      visibilityTimeoutSeconds: 30,
      fifo: false,
    });
    expect(model.queues.find((q) => q.name === 'Work')).toMatchObject({
      messageRetentionSeconds: 345_600,
      redrive: { deadLetterQueue: 'Dlq', maxReceiveCount: 4 },
    });
    expect(model.functions[0]!.memoryMb).toBe(128);
    expect(model.eventSources).toEqual([
      {
        functionId: 'worker',
        queue: 'Work',
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        reportBatchItemFailures: false,
      },
    ]);
    expect(model.tables[0]!.ttlAttribute).toBe('expires');
  });

  it('links routes to functions and authorizers through integrations', () => {
    const model = modelFromTemplates({ Data: data(), Api: api({}) }, 's');
    expect(model.httpApi.routes).toEqual([
      {
        routeKey: 'GET /x',
        functionId: 'worker',
        authorizer: {
          functionId: 'worker',
          payloadFormatVersion: '2.0',
          simpleResponses: false,
          identitySource: ['$request.header.X'],
          resultTtlSeconds: 0,
        },
      },
    ]);
    expect(model.webSocketApi).toEqual({
      routeSelectionExpression: '$request.body.a',
      routes: [{ routeKey: '$default', functionId: 'worker' }],
    });
  });

  it('models buckets with their CORS rules, leaving out access-log destinations', () => {
    const model = modelFromTemplates({ Data: data(), Api: api({}) }, 's');
    expect(model.buckets).toEqual([
      {
        name: 'Files',
        logicalId: 'Files',
        cors: [
          {
            allowedOrigins: ['https://a.example'],
            allowedMethods: ['GET'],
            allowedHeaders: [],
            exposedHeaders: [],
          },
        ],
      },
    ]);
  });

  it('fails naming the variable when an import has no export', () => {
    const templates = { Data: data(), Api: api({ LOST: { 'Fn::ImportValue': 'data:missing' } }) };
    expect(() => modelFromTemplates(templates, 's')).toThrow(TemplateModelError);
    expect(() => modelFromTemplates(templates, 's')).toThrow(/worker environment LOST/);
  });

  it('fails on a value the local platform has no equivalent for', () => {
    const templates = { Data: data(), Api: api({ ROLE: { 'Fn::GetAtt': ['Table', 'StreamArn'] } }) };
    expect(() => modelFromTemplates(templates, 's')).toThrow(/ROLE: no local equivalent/);
  });
});
