// Infra tests: functions, least-privilege grants, routes and authorizers, derived from the platform manifest.
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV, PROVIDER_KEY_SECRET_ARN_VAR, providerEnv } from '../../functions/platform/env';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../../functions/platform/functions';
import { METRICS_NAMESPACE } from '../../functions/platform/metrics';
import { QUEUES, type QueueName } from '../../functions/platform/queues';
import {
  HTTP_ROUTES,
  routeKeyOf,
  WS_ROUTE_SELECTION_EXPRESSION,
  WS_ROUTES,
} from '../../functions/platform/routes';
import { TABLES, type TableName } from '../../functions/platform/tables';
import { AUTHORIZER_FUNCTIONS } from '../../lib/constructs/observability';
import {
  actionsOn,
  configDirWith,
  dataLogicalId,
  exportTargets,
  functionLogicalIds,
  type Json,
  referencedLogicalIds,
  resourcesOfType,
  type SynthesizedStage,
  statementsOf,
  synthStage,
} from '../helpers/cdk-synth';

const CORS_ORIGIN = 'https://app.acme.example';
/** Two providers, so each key secret's variable and grant can be told apart. */
const LLM = {
  defaultModel: 'gpt-4o-mini',
  providers: {
    openai: { models: { 'gpt-4o-mini': {} } },
    'mistral-eu': {
      baseUrl: 'https://api.mistral.ai/v1',
      models: { 'mistral-small-latest': { contextTokens: 32_000, maxOutputTokens: 8_192 } },
    },
  },
};
let stage: SynthesizedStage;
let fnIds: Map<string, string>;
let exports: Map<string, string>;

beforeAll(() => {
  stage = synthStage(
    'acme',
    configDirWith('acme', { corsOrigins: [CORS_ORIGIN], authorizerCacheTtlSeconds: 45, llm: LLM }),
  );
  fnIds = functionLogicalIds(stage.apiJson);
  exports = exportTargets(stage.dataJson);
});
afterAll(() => stage?.dispose());

const catalogue = Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][];
const fnResource = (id: string): Json => stage.apiJson.Resources[fnIds.get(id)!];
const tableId = (name: TableName) => dataLogicalId(stage.built, stage.built.dataStack.data.tables[name]);
const queueId = (name: QueueName) => dataLogicalId(stage.built, stage.built.dataStack.queues.queues[name]);
const WRITE = /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems|\*)$/;
const READ = /^dynamodb:(GetItem|Query)$/;

describe('functions', () => {
  it('creates exactly the catalogue, each with its metadata', () => {
    expect([...fnIds.keys()].sort()).toEqual(Object.keys(FUNCTIONS).sort());
    for (const [id, definition] of catalogue) {
      expect(fnResource(id).Metadata['Tenantic:Function']).toEqual({
        id,
        entry: definition.entry,
        handler: definition.handler ?? 'handler',
      });
    }
  });

  it.each(catalogue)(
    '%s: nodejs22.x, arm64, tracing, timeout and memory from the catalogue',
    (id, definition) => {
      const props = fnResource(id).Properties;
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.TracingConfig).toEqual({ Mode: 'Active' });
      expect(props.Timeout).toBe(definition.timeoutSeconds);
      expect(props.MemorySize).toBe(definition.memoryMb);
      expect(props.Environment.Variables.NODE_OPTIONS).toContain('--enable-source-maps');
    },
  );

  it.each(catalogue)(
    '%s: Powertools settings: its catalogue id as service, the metrics namespace, sampling and secret age',
    (id) => {
      const env = fnResource(id).Properties.Environment.Variables;
      const config = stage.built.config;
      expect(env[ENV.serviceName]).toBe(id);
      expect(env[ENV.metricsNamespace]).toBe(METRICS_NAMESPACE);
      expect(env[ENV.logSampleRate]).toBe(String(config.logSampleRate));
      expect(env[ENV.secretsMaxAgeSeconds]).toBe(String(config.secretsMaxAgeSeconds));
      // Tracing is on in the cloud: only the local platform turns Powertools Tracer off.
      expect(env).not.toHaveProperty(ENV.traceEnabled);
    },
  );

  it.each(catalogue)('%s: its own log group with the stage retention', (id) => {
    const group = fnResource(id).Properties.LoggingConfig.LogGroup.Ref;
    const resource = stage.apiJson.Resources[group];
    expect(resource.Type).toBe('AWS::Logs::LogGroup');
    expect(resource.Properties.RetentionInDays).toBe(stage.built.config.logRetentionDays);
    const others = catalogue.filter(([other]) => other !== id);
    for (const [other] of others)
      expect(fnResource(other).Properties.LoggingConfig.LogGroup.Ref).not.toBe(group);
  });

  it.each(catalogue)('%s: common settings plus only the resource variables it needs', (id, definition) => {
    const env = fnResource(id).Properties.Environment.Variables;
    const config = stage.built.config;
    expect(env[ENV.stage]).toBe('acme');
    expect(JSON.parse(env[ENV.plans])).toEqual(config.plans);
    expect(env[ENV.defaultPlan]).toBe(config.defaultPlan);
    expect(env[ENV.defaultModel]).toBe(config.llm.defaultModel);
    expect(env[ENV.defaultProvider]).toBe('openai');
    // The catalogue as reviewed, every model's limits spelled out (published ones filled in).
    expect(JSON.parse(env[ENV.llmProviders])).toEqual({
      openai: { models: { 'gpt-4o-mini': { contextTokens: 128_000, maxOutputTokens: 16_384 } } },
      'mistral-eu': {
        baseUrl: 'https://api.mistral.ai/v1',
        models: { 'mistral-small-latest': { contextTokens: 32_000, maxOutputTokens: 8_192 } },
      },
    });
    expect(env[ENV.llmBaseUrl]).toBeUndefined();
    expect(env[ENV.corsOrigins]).toBe(CORS_ORIGIN);
    expect(Number(env[ENV.maxBodyBytes])).toBe(config.maxBodyBytes);

    for (const name of Object.keys(TABLES) as TableName[]) {
      const wanted = definition.tables?.[name] !== undefined;
      expect(env[TABLES[name].envVar] !== undefined, `${TABLES[name].envVar}`).toBe(wanted);
      if (wanted)
        expect(referencedLogicalIds(env[TABLES[name].envVar], exports)).toEqual(new Set([tableId(name)]));
    }
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      expect(env[QUEUES[name].envVar] !== undefined).toBe(definition.queues?.[name] !== undefined);
    }
    expect(env[ENV.adminKeySecretArn] !== undefined).toBe(definition.adminKey === true);
    const keyVars = Object.keys(env).filter((name) => PROVIDER_KEY_SECRET_ARN_VAR.test(name));
    expect(keyVars.sort()).toEqual(
      definition.llm
        ? ['mistral-eu', 'openai'].map((provider) => providerEnv(provider).apiKeySecretArn).sort()
        : [],
    );
    if (definition.llm) {
      for (const [provider, secret] of Object.entries(stage.built.dataStack.data.llmApiKeys)) {
        expect(referencedLogicalIds(env[providerEnv(provider).apiKeySecretArn], exports), provider).toEqual(
          new Set([dataLogicalId(stage.built, secret)]),
        );
      }
    }
    expect(env[ENV.llmApiKey]).toBeUndefined();
    expect(env[providerEnv('mistral-eu').apiKey]).toBeUndefined();
    expect(env[ENV.wsManagementEndpoint] !== undefined).toBe(definition.wsManagement === true);
    expect(env[ENV.filesBucket] !== undefined).toBe(definition.bucket !== undefined);
    expect(env[ENV.adminApiKey]).toBeUndefined();
  });
});

describe('least privilege', () => {
  it.each(catalogue)('%s: DynamoDB access exactly as the catalogue grants', (id, definition) => {
    for (const name of Object.keys(TABLES) as TableName[]) {
      const actions = [...actionsOn(stage.apiJson, exports, fnIds.get(id)!, tableId(name))];
      const access = definition.tables?.[name];
      expect(
        actions.some((action) => READ.test(action)),
        `${name} read`,
      ).toBe(access !== undefined);
      expect(
        actions.some((action) => WRITE.test(action)),
        `${name} write`,
      ).toBe(access === 'readWrite');
    }
  });

  it('grants no function dynamodb:Scan: no code scans, and a scan reads every tenant at once', () => {
    for (const [id] of catalogue) {
      const actions = statementsOf(stage.apiJson, fnIds.get(id)!).flatMap((s) => s.actions);
      expect(actions, id).not.toContain('dynamodb:Scan');
    }
  });

  it('keeps the public OpenAPI function away from every table', () => {
    const actions = statementsOf(stage.apiJson, fnIds.get('openapi-doc')!).flatMap((s) => s.actions);
    expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
  });

  it('lets the account function read tenants but never write them', () => {
    const actions = [...actionsOn(stage.apiJson, exports, fnIds.get('account-api')!, tableId('tenants'))];
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions.filter((action) => WRITE.test(action))).toEqual([]);
  });

  it.each(catalogue)(
    '%s: no wildcard actions, queue and secret access as the catalogue says',
    (id, definition) => {
      const statements = statementsOf(stage.apiJson, fnIds.get(id)!);
      expect(statements.flatMap((s) => s.actions).filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
      for (const name of Object.keys(QUEUES) as QueueName[]) {
        const actions = actionsOn(stage.apiJson, exports, fnIds.get(id)!, queueId(name));
        const use = definition.queues?.[name];
        expect(actions.has('sqs:SendMessage'), `${name} send`).toBe(use === 'send');
        expect(actions.has('sqs:ReceiveMessage'), `${name} consume`).toBe(use === 'consume');
      }
      const secret = dataLogicalId(stage.built, stage.built.dataStack.data.adminKey);
      expect(
        actionsOn(stage.apiJson, exports, fnIds.get(id)!, secret).has('secretsmanager:GetSecretValue'),
        'admin key',
      ).toBe(definition.adminKey === true);
      const llmKeys = Object.entries(stage.built.dataStack.data.llmApiKeys);
      expect(llmKeys.map(([provider]) => provider).sort()).toEqual(['mistral-eu', 'openai']);
      for (const [provider, secret] of llmKeys) {
        const actions = actionsOn(stage.apiJson, exports, fnIds.get(id)!, dataLogicalId(stage.built, secret));
        expect(actions.has('secretsmanager:GetSecretValue'), `LLM key of ${provider}`).toBe(
          definition.llm === true,
        );
        // Read only: nobody in the stack may change or delete a provider's key.
        expect(
          [...actions].filter((action) => !/^secretsmanager:(GetSecretValue|DescribeSecret)$/.test(action)),
        ).toEqual([]);
      }
    },
  );

  it.each(catalogue)(
    '%s: execute-api:ManageConnections only with wsManagement, on @connections only',
    (id, def) => {
      const statements = statementsOf(stage.apiJson, fnIds.get(id)!).filter((s) =>
        s.actions.includes('execute-api:ManageConnections'),
      );
      expect(statements.length > 0).toBe(def.wsManagement === true);
      const wsApi = resourcesOfType(stage.apiJson, 'AWS::ApiGatewayV2::Api').find(
        ([, api]) => api.Properties.ProtocolType === 'WEBSOCKET',
      )![0];
      for (const statement of statements) {
        for (const resource of statement.resources) {
          expect(JSON.stringify(resource)).toMatch(/\/@connections\/\*"/);
          expect(referencedLogicalIds(resource, exports)).toContain(wsApi);
        }
      }
    },
  );
});

describe('queue consumers', () => {
  it.each(Object.keys(QUEUES) as QueueName[])('%s: event source with the manifest batch settings', (name) => {
    const consumer = catalogue.find(([, definition]) => definition.queues?.[name] === 'consume')!;
    const mappings = resourcesOfType(stage.apiJson, 'AWS::Lambda::EventSourceMapping').filter(
      ([, mapping]) => mapping.Properties.FunctionName.Ref === fnIds.get(consumer[0]),
    );
    expect(mappings).toHaveLength(1);
    const props = mappings[0]![1].Properties;
    expect(referencedLogicalIds(props.EventSourceArn, exports)).toEqual(new Set([queueId(name)]));
    expect(props.BatchSize).toBe(QUEUES[name].batchSize);
    expect(props.MaximumBatchingWindowInSeconds ?? 0).toBe(QUEUES[name].maxBatchingWindowSeconds);
    expect(props.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const visibility = stage.dataJson.Resources[queueId(name)].Properties.VisibilityTimeout;
    expect(visibility).toBeGreaterThanOrEqual(6 * consumer[1].timeoutSeconds);
  });

  it.each(Object.keys(QUEUES) as QueueName[])(
    '%s: the consumer knows its queue redrive maxReceiveCount and visibility timeout (retry backoff)',
    (name) => {
      const consumer = catalogue.find(([, definition]) => definition.queues?.[name] === 'consume')!;
      const env = fnResource(consumer[0]).Properties.Environment.Variables;
      const queue = stage.dataJson.Resources[queueId(name)].Properties;
      expect(Number(env[ENV.queueMaxReceiveCount])).toBe(queue.RedrivePolicy.maxReceiveCount);
      expect(Number(env[ENV.queueVisibilityTimeout])).toBe(queue.VisibilityTimeout);
      const others = catalogue.filter(
        ([, definition]) => !Object.values(definition.queues ?? {}).includes('consume'),
      );
      for (const [other] of others) {
        expect(
          fnResource(other).Properties.Environment.Variables[ENV.queueMaxReceiveCount],
          other,
        ).toBeUndefined();
      }
    },
  );
});

const integrationFunction = (target: Json): string | undefined => {
  const integrationId = [...referencedLogicalIds(target, exports)][0]!;
  const uri = stage.apiJson.Resources[integrationId].Properties.IntegrationUri;
  const fnLogicalId = [...referencedLogicalIds(uri, exports)].find(
    (id) => stage.apiJson.Resources[id]?.Type === 'AWS::Lambda::Function',
  );
  return [...fnIds].find(([, logicalId]) => logicalId === fnLogicalId)?.[0];
};

const authorizerOf = (route: Json): Json | undefined =>
  route.Properties.AuthorizerId ? stage.apiJson.Resources[route.Properties.AuthorizerId.Ref] : undefined;

const authorizerFunction = (authorizer: Json): string | undefined => {
  const fnLogicalId = [...referencedLogicalIds(authorizer.Properties.AuthorizerUri, exports)].find(
    (id) => stage.apiJson.Resources[id]?.Type === 'AWS::Lambda::Function',
  );
  return [...fnIds].find(([, logicalId]) => logicalId === fnLogicalId)?.[0];
};

describe('HTTP API', () => {
  const routes = () => resourcesOfType(stage.apiJson, 'AWS::ApiGatewayV2::Route').map(([, route]) => route);

  it.each(HTTP_ROUTES.map((route) => [routeKeyOf(route), route] as const))('%s', (routeKey, row) => {
    const matches = routes().filter((route) => route.Properties.RouteKey === routeKey);
    expect(matches).toHaveLength(1);
    const route = matches[0];
    expect(integrationFunction(route.Properties.Target)).toBe(row.function);
    const authorizer = authorizerOf(route);
    if (row.auth === 'none') {
      expect(authorizer).toBeUndefined();
      expect(route.Properties.AuthorizationType ?? 'NONE').toBe('NONE');
      return;
    }
    expect(route.Properties.AuthorizationType).toBe('CUSTOM');
    expect(authorizerFunction(authorizer)).toBe('authorizer-http');
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 45,
    });
  });

  it('shares one authorizer across the protected routes', () => {
    const protectedRoutes = routes().filter((route) => route.Properties.AuthorizationType === 'CUSTOM');
    const httpRoutes = protectedRoutes.filter((r) =>
      HTTP_ROUTES.some((row) => routeKeyOf(row) === r.Properties.RouteKey),
    );
    expect(new Set(httpRoutes.map((route) => route.Properties.AuthorizerId.Ref)).size).toBe(1);
  });

  it('takes CORS from the stage config and logs access on an auto-deployed, throttled stage', () => {
    stage.api.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({ AllowOrigins: [CORS_ORIGIN] }),
    });
    stage.api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: Match.anyValue() }),
    });
  });
});

describe('WebSocket API', () => {
  const wsApiId = () =>
    resourcesOfType(stage.apiJson, 'AWS::ApiGatewayV2::Api').find(
      ([, a]) => a.Properties.ProtocolType === 'WEBSOCKET',
    )![0];

  it('selects routes with the manifest expression', () => {
    expect(stage.apiJson.Resources[wsApiId()].Properties.RouteSelectionExpression).toBe(
      WS_ROUTE_SELECTION_EXPRESSION,
    );
  });

  it.each(WS_ROUTES.map((route) => [route.routeKey, route] as const))('%s', (routeKey, row) => {
    const matches = resourcesOfType(stage.apiJson, 'AWS::ApiGatewayV2::Route').filter(
      ([, route]) => route.Properties.RouteKey === routeKey && route.Properties.ApiId.Ref === wsApiId(),
    );
    expect(matches).toHaveLength(1);
    const route = matches[0]![1];
    expect(integrationFunction(route.Properties.Target)).toBe(row.function);
    const authorizer = authorizerOf(route);
    if (routeKey !== '$connect') {
      expect(authorizer).toBeUndefined();
      return;
    }
    expect(authorizerFunction(authorizer)).toBe('authorizer-ws');
    expect(authorizer.Properties.AuthorizerType).toBe('REQUEST');
    // Header or ?ticket=: listing either as an identity source would make it mandatory. Absent, not `[]`:
    // the property is optional for REQUEST authorizers and an empty list may be rejected on deploy.
    expect(authorizer.Properties).not.toHaveProperty('IdentitySource');
  });

  it('sets the API Gateway account CloudWatch role its access logs need, before the stage', () => {
    const accounts = resourcesOfType(stage.apiJson, 'AWS::ApiGateway::Account');
    expect(accounts).toHaveLength(1);
    const [accountId, account] = accounts[0]!;
    const roleId = account.Properties.CloudWatchRoleArn['Fn::GetAtt'][0];
    const role = stage.apiJson.Resources[roleId];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' } }),
    ]);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(
      ':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
    );
    // Other APIs of the region may log through the account setting after this stack is gone.
    expect(role.DeletionPolicy).toBe('Retain');
    const [, wsStage] = resourcesOfType(stage.apiJson, 'AWS::ApiGatewayV2::Stage').find(
      ([, s]) => s.Properties.ApiId.Ref === wsApiId(),
    )!;
    expect(wsStage.DependsOn).toContain(accountId);
  });

  it('leaves the account setting alone when the stage config turns it off', () => {
    const shared = synthStage('shared', configDirWith('shared', { apiGatewayAccountLogsRole: false }));
    try {
      expect(resourcesOfType(shared.apiJson, 'AWS::ApiGateway::Account')).toEqual([]);
      const roles = resourcesOfType(shared.apiJson, 'AWS::IAM::Role').filter(([, role]) =>
        JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('apigateway.amazonaws.com'),
      );
      expect(roles).toEqual([]);
    } finally {
      shared.dispose();
    }
  });

  it('has an auto-deployed stage with access logs and throttling', () => {
    stage.api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: wsApiId() },
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      DefaultRouteSettings: Match.objectLike({ ThrottlingBurstLimit: Match.anyValue() }),
    });
  });
});

describe('alarms', () => {
  const alarms = () =>
    resourcesOfType(stage.apiJson, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);

  it('alarms on any message in any DLQ', () => {
    const dlqIds = Object.keys(QUEUES).map((name) =>
      dataLogicalId(stage.built, stage.built.dataStack.queues.deadLetterQueues[name as QueueName]),
    );
    for (const dlq of dlqIds) {
      const alarm = alarms().find(
        (props) =>
          props.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          referencedLogicalIds(props.Dimensions, exports).has(dlq),
      );
      expect(alarm, dlq).toBeDefined();
      expect(alarm.Threshold).toBe(0);
      expect(alarm.ComparisonOperator).toBe('GreaterThanThreshold');
      expect(alarm.AlarmActions).toHaveLength(1);
    }
  });

  const plainAlarmOn = (metric: string, id: string) =>
    alarms().find((props) => props.MetricName === metric && props.Dimensions[0].Value.Ref === fnIds.get(id));

  it.each(catalogue)('%s: a Throttles alarm', (id) => {
    expect(plainAlarmOn('Throttles', id)).toBeDefined();
  });

  const authorizers = catalogue.filter(([id]) => AUTHORIZER_FUNCTIONS.has(id));
  const others = catalogue.filter(([id]) => !AUTHORIZER_FUNCTIONS.has(id));

  it.each(others)('%s: alarms on any error', (id) => {
    const alarm = plainAlarmOn('Errors', id);
    expect(alarm).toBeDefined();
    expect(alarm.Threshold).toBe(0);
  });

  it('serves both API authorizers, which are the functions treated as authorizers here', () => {
    const used = new Set(
      resourcesOfType(stage.apiJson, 'AWS::ApiGatewayV2::Authorizer').map(([, a]) => authorizerFunction(a)),
    );
    expect(used).toEqual(new Set(authorizers.map(([id]) => id)));
  });

  it.each(authorizers)('%s: no Errors > 0 alarm (a refusal is an error), but an error-rate alarm', (id) => {
    expect(plainAlarmOn('Errors', id)).toBeUndefined();
    const rateAlarm = alarms().find((props) => {
      const metrics: Json[] = props.Metrics ?? [];
      const onFunction = (name: string) =>
        metrics.some(
          (m) =>
            m.MetricStat?.Metric.MetricName === name &&
            m.MetricStat.Metric.Dimensions[0].Value.Ref === fnIds.get(id),
        );
      return onFunction('Errors') && onFunction('Invocations');
    });
    expect(rateAlarm, 'error-rate alarm').toBeDefined();
    const expression = rateAlarm.Metrics.find((m: Json) => m.Expression).Expression as string;
    expect(expression).toMatch(/errors \/ invocations/);
    // A single refusal must not alarm: the rate is gated by a minimum number of invocations.
    expect(expression).toMatch(/IF\(invocations >= \d+/);
    expect(rateAlarm.Threshold).toBeGreaterThan(0);
    expect(rateAlarm.AlarmActions).toHaveLength(1);
  });

  it('lets CloudWatch use the alarm topic key only on behalf of this account', () => {
    const [, key] = resourcesOfType(stage.apiJson, 'AWS::KMS::Key')[0]!;
    const statement = key.Properties.KeyPolicy.Statement.find(
      (s: Json) => s.Principal?.Service === 'cloudwatch.amazonaws.com',
    );
    expect(statement.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
  });

  it('publishes to a KMS-encrypted topic that only accepts TLS', () => {
    stage.api.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    stage.api.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
  });
});

describe('tags and outputs', () => {
  it('tags resources with stage and tenancy', () => {
    stage.api.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([
        { Key: 'tenantic:stage', Value: 'acme' },
        { Key: 'tenantic:tenancy', Value: stage.built.config.tenancy },
      ]),
    });
    stage.data.hasResourceProperties('AWS::DynamoDB::Table', {
      Tags: Match.arrayWith([{ Key: 'tenantic:stage', Value: 'acme' }]),
    });
  });

  it('tags both stacks themselves too, so CloudFormation tags what it creates for them', () => {
    const assembly = stage.built.app.synth();
    for (const stack of [stage.built.dataStack, stage.built.apiStack]) {
      expect(assembly.getStackByName(stack.stackName).tags, stack.stackName).toMatchObject({
        'tenantic:stage': 'acme',
        'tenantic:tenancy': stage.built.config.tenancy,
      });
    }
  });

  it('outputs the HTTP and WebSocket URLs', () => {
    expect(Object.keys(stage.apiJson.Outputs)).toEqual(
      expect.arrayContaining(['HttpApiUrl', 'WebSocketUrl']),
    );
  });
});
