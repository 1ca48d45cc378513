// Local platform: reads the synthesized CloudFormation templates of a stage into the LocalPlatformModel.
// Only the templates are read (never the platform manifest), so the local platform runs what the cloud
// stacks declare, and a drift between the two shows up here.
import { rmSync } from 'node:fs';
import { buildApp } from '../lib/app';
import type {
  EnvValue,
  LocalAuthorizer,
  LocalBucket,
  LocalCorsRule,
  LocalEventSource,
  LocalFunction,
  LocalHttpApi,
  LocalPlatformModel,
  LocalQueue,
  LocalRoute,
  LocalTable,
  LocalWebSocketApi,
} from './model';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation templates are untyped JSON.
type Json = any;

export interface CfnTemplate {
  readonly Resources?: Record<string, { Type: string; Properties?: Json; Metadata?: Json }>;
  readonly Outputs?: Record<string, { Value: Json; Export?: { Name: Json } }>;
}

export class TemplateModelError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TemplateModelError';
  }
}

const FUNCTION_METADATA_KEY = 'Tenantic:Function';

interface ResourceRef {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Json;
}

/** What an intrinsic points at, once imports are followed. */
type Resolved =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'ref'; readonly resource: ResourceRef }
  | { readonly kind: 'getAtt'; readonly resource: ResourceRef; readonly attribute: string }
  | { readonly kind: 'pseudo'; readonly name: string }
  | { readonly kind: 'join'; readonly parts: readonly Resolved[] };

class TemplateIndex {
  private readonly resources = new Map<string, ResourceRef>();
  private readonly exports = new Map<string, { stack: string; value: Json }>();

  constructor(templates: Readonly<Record<string, CfnTemplate>>) {
    for (const [stack, template] of Object.entries(templates)) {
      for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
        if (this.resources.has(logicalId)) {
          throw new TemplateModelError(
            `logical id ${logicalId} appears in two stacks; local names would clash`,
          );
        }
        this.resources.set(logicalId, {
          stack,
          logicalId,
          type: resource.Type,
          properties: resource.Properties ?? {},
        });
      }
      for (const output of Object.values(template.Outputs ?? {})) {
        if (typeof output.Export?.Name === 'string')
          this.exports.set(output.Export.Name, { stack, value: output.Value });
      }
    }
  }

  ofType(type: string): ResourceRef[] {
    return [...this.resources.values()].filter((resource) => resource.type === type);
  }

  metadataOf(templates: Readonly<Record<string, CfnTemplate>>, ref: ResourceRef): Json {
    return templates[ref.stack]?.Resources?.[ref.logicalId]?.Metadata;
  }

  get(logicalId: string, context: string): ResourceRef {
    const resource = this.resources.get(logicalId);
    if (!resource) throw new TemplateModelError(`${context}: no resource ${logicalId} in the templates`);
    return resource;
  }

  resolve(value: Json, context: string): Resolved {
    if (typeof value === 'string') return { kind: 'literal', value };
    if (typeof value === 'number' || typeof value === 'boolean')
      return { kind: 'literal', value: String(value) };
    if (value && typeof value === 'object') {
      if ('Ref' in value) {
        const name = value.Ref as string;
        if (name.startsWith('AWS::')) return { kind: 'pseudo', name };
        return { kind: 'ref', resource: this.get(name, context) };
      }
      if ('Fn::GetAtt' in value) {
        const [logicalId, attribute] = value['Fn::GetAtt'] as [string, string];
        return { kind: 'getAtt', resource: this.get(logicalId, context), attribute };
      }
      if ('Fn::ImportValue' in value) {
        const name = value['Fn::ImportValue'];
        const exported = typeof name === 'string' ? this.exports.get(name) : undefined;
        if (!exported)
          throw new TemplateModelError(`${context}: import ${JSON.stringify(name)} has no export`);
        return this.resolve(exported.value, context);
      }
      if ('Fn::Join' in value) {
        const [separator, parts] = value['Fn::Join'] as [string, Json[]];
        const resolved = parts.map((part) => this.resolve(part, context));
        if (separator === '' && resolved.every((part) => part.kind === 'literal')) {
          return {
            kind: 'literal',
            value: resolved.map((part) => (part as { value: string }).value).join(''),
          };
        }
        if (separator !== '')
          throw new TemplateModelError(`${context}: Fn::Join with a separator is not supported`);
        return { kind: 'join', parts: resolved };
      }
    }
    throw new TemplateModelError(`${context}: cannot resolve ${JSON.stringify(value)}`);
  }

  /** The resource an expression names, by Ref or GetAtt, searching inside joins (ARN templates). */
  target(value: Json, type: string, context: string): ResourceRef {
    const found = this.findTarget(this.resolve(value, context), type);
    if (!found) throw new TemplateModelError(`${context}: does not point at a ${type}`);
    return found;
  }

  private findTarget(resolved: Resolved, type: string): ResourceRef | undefined {
    if ((resolved.kind === 'ref' || resolved.kind === 'getAtt') && resolved.resource.type === type) {
      return resolved.resource;
    }
    if (resolved.kind === 'join') {
      for (const part of resolved.parts) {
        const found = this.findTarget(part, type);
        if (found) return found;
      }
    }
    return undefined;
  }
}

const envValueOf = (index: TemplateIndex, value: Json, context: string): EnvValue => {
  const resolved = index.resolve(value, context);
  if (resolved.kind === 'literal') return { kind: 'literal', value: resolved.value };
  if (resolved.kind === 'ref') {
    const { type, logicalId } = resolved.resource;
    if (type === 'AWS::DynamoDB::Table') return { kind: 'table', table: logicalId };
    if (type === 'AWS::SQS::Queue') return { kind: 'queueUrl', queue: logicalId };
    if (type === 'AWS::S3::Bucket') return { kind: 'bucket', bucket: logicalId };
    if (type === 'AWS::SecretsManager::Secret') return { kind: 'secretArn', secret: logicalId };
  }
  if (
    resolved.kind === 'getAtt' &&
    resolved.resource.type === 'AWS::SQS::Queue' &&
    resolved.attribute === 'Arn'
  ) {
    return { kind: 'queueArn', queue: resolved.resource.logicalId };
  }
  if (resolved.kind === 'join') {
    const api = resolved.parts.find(
      (part) =>
        part.kind === 'ref' &&
        part.resource.type === 'AWS::ApiGatewayV2::Api' &&
        part.resource.properties.ProtocolType === 'WEBSOCKET',
    );
    if (api) return { kind: 'wsManagementEndpoint' };
  }
  throw new TemplateModelError(`${context}: no local equivalent for ${JSON.stringify(value)}`);
};

const tablesOf = (index: TemplateIndex): LocalTable[] =>
  index.ofType('AWS::DynamoDB::Table').map(({ logicalId, properties }) => ({
    name: logicalId,
    logicalId,
    keySchema: properties.KeySchema,
    attributeDefinitions: properties.AttributeDefinitions,
    globalSecondaryIndexes: (properties.GlobalSecondaryIndexes ?? []).map((gsi: Json) => ({
      IndexName: gsi.IndexName,
      KeySchema: gsi.KeySchema,
      Projection: gsi.Projection,
    })),
    ...(properties.TimeToLiveSpecification?.Enabled
      ? { ttlAttribute: properties.TimeToLiveSpecification.AttributeName }
      : {}),
  }));

// SQS's own defaults, for properties a template leaves out.
const SQS_DEFAULT_VISIBILITY_TIMEOUT = 30;
const SQS_DEFAULT_RETENTION = 345_600;

const queuesOf = (index: TemplateIndex): LocalQueue[] =>
  index.ofType('AWS::SQS::Queue').map(({ logicalId, properties }) => {
    const redrive = properties.RedrivePolicy;
    return {
      name: logicalId,
      logicalId,
      fifo: properties.FifoQueue === true,
      visibilityTimeoutSeconds: properties.VisibilityTimeout ?? SQS_DEFAULT_VISIBILITY_TIMEOUT,
      messageRetentionSeconds: properties.MessageRetentionPeriod ?? SQS_DEFAULT_RETENTION,
      ...(redrive
        ? {
            redrive: {
              deadLetterQueue: index.target(
                redrive.deadLetterTargetArn,
                'AWS::SQS::Queue',
                `${logicalId} redrive`,
              ).logicalId,
              maxReceiveCount: Number(redrive.maxReceiveCount),
            },
          }
        : {}),
    };
  });

// A bucket that only receives another bucket's server access logs has no local role: emulators write no
// access logs, and no function is handed its name.
const accessLogDestinations = (index: TemplateIndex): Set<string> =>
  new Set(
    index.ofType('AWS::S3::Bucket').flatMap(({ logicalId, properties }) => {
      const destination = properties.LoggingConfiguration?.DestinationBucketName;
      return destination
        ? [index.target(destination, 'AWS::S3::Bucket', `${logicalId} logging`).logicalId]
        : [];
    }),
  );

const bucketsOf = (index: TemplateIndex): LocalBucket[] => {
  const logOnly = accessLogDestinations(index);
  return index
    .ofType('AWS::S3::Bucket')
    .filter(({ logicalId }) => !logOnly.has(logicalId))
    .map(({ logicalId, properties }) => ({
      name: logicalId,
      logicalId,
      cors: (properties.CorsConfiguration?.CorsRules ?? []).map(
        (rule: Json): LocalCorsRule => ({
          allowedOrigins: rule.AllowedOrigins ?? [],
          allowedMethods: rule.AllowedMethods ?? [],
          allowedHeaders: rule.AllowedHeaders ?? [],
          exposedHeaders: rule.ExposedHeaders ?? [],
          ...(rule.MaxAge !== undefined ? { maxAgeSeconds: rule.MaxAge } : {}),
        }),
      ),
    }));
};

const functionsOf = (
  index: TemplateIndex,
  templates: Readonly<Record<string, CfnTemplate>>,
): LocalFunction[] =>
  index.ofType('AWS::Lambda::Function').flatMap((ref) => {
    const metadata = index.metadataOf(templates, ref)?.[FUNCTION_METADATA_KEY];
    // CDK's own helper functions (custom resources) carry no catalogue metadata and do not run locally.
    if (!metadata) return [];
    const variables: Record<string, Json> = ref.properties.Environment?.Variables ?? {};
    const environment = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [
        name,
        envValueOf(index, value, `${metadata.id} environment ${name}`),
      ]),
    );
    return [
      {
        logicalId: ref.logicalId,
        id: metadata.id,
        entry: metadata.entry,
        handler: metadata.handler ?? 'handler',
        timeoutSeconds: ref.properties.Timeout ?? 3,
        memoryMb: ref.properties.MemorySize ?? 128,
        environment,
      },
    ];
  });

const functionIdOf = (
  index: TemplateIndex,
  byLogicalId: Map<string, string>,
  value: Json,
  context: string,
) => {
  const fn = index.target(value, 'AWS::Lambda::Function', context);
  const id = byLogicalId.get(fn.logicalId);
  if (!id)
    throw new TemplateModelError(
      `${context}: function ${fn.logicalId} has no ${FUNCTION_METADATA_KEY} metadata`,
    );
  return id;
};

const routesOf = (index: TemplateIndex, api: ResourceRef, byLogicalId: Map<string, string>): LocalRoute[] =>
  index
    .ofType('AWS::ApiGatewayV2::Route')
    .filter((route) => index.resolve(route.properties.ApiId, route.logicalId).kind === 'ref')
    .filter(
      (route) => index.target(route.properties.ApiId, api.type, route.logicalId).logicalId === api.logicalId,
    )
    .map((route) => {
      const context = `route ${route.properties.RouteKey}`;
      const integration = index.target(route.properties.Target, 'AWS::ApiGatewayV2::Integration', context);
      const functionId = functionIdOf(index, byLogicalId, integration.properties.IntegrationUri, context);
      const authorizerId = route.properties.AuthorizerId;
      let authorizer: LocalAuthorizer | undefined;
      if (authorizerId !== undefined && route.properties.AuthorizationType === 'CUSTOM') {
        const ref = index.target(authorizerId, 'AWS::ApiGatewayV2::Authorizer', context);
        const props = ref.properties;
        authorizer = {
          functionId: functionIdOf(index, byLogicalId, props.AuthorizerUri, `${context} authorizer`),
          payloadFormatVersion: props.AuthorizerPayloadFormatVersion === '2.0' ? '2.0' : '1.0',
          simpleResponses: props.EnableSimpleResponses === true,
          identitySource: props.IdentitySource ?? [],
          resultTtlSeconds: props.AuthorizerResultTtlInSeconds ?? 0,
        };
      }
      return { routeKey: route.properties.RouteKey, functionId, ...(authorizer ? { authorizer } : {}) };
    });

const apiOf = (index: TemplateIndex, protocol: 'HTTP' | 'WEBSOCKET'): ResourceRef => {
  const apis = index
    .ofType('AWS::ApiGatewayV2::Api')
    .filter((api) => api.properties.ProtocolType === protocol);
  if (apis.length !== 1) throw new TemplateModelError(`expected one ${protocol} API, found ${apis.length}`);
  return apis[0]!;
};

const httpApiOf = (index: TemplateIndex, byLogicalId: Map<string, string>): LocalHttpApi => {
  const api = apiOf(index, 'HTTP');
  const cors = api.properties.CorsConfiguration;
  return {
    routes: routesOf(index, api, byLogicalId),
    ...(cors
      ? {
          cors: {
            allowOrigins: cors.AllowOrigins ?? [],
            allowMethods: cors.AllowMethods ?? [],
            allowHeaders: cors.AllowHeaders ?? [],
            exposeHeaders: cors.ExposeHeaders ?? [],
            ...(cors.MaxAge !== undefined ? { maxAgeSeconds: cors.MaxAge } : {}),
            ...(cors.AllowCredentials !== undefined ? { allowCredentials: cors.AllowCredentials } : {}),
          },
        }
      : {}),
  };
};

const webSocketApiOf = (index: TemplateIndex, byLogicalId: Map<string, string>): LocalWebSocketApi => {
  const api = apiOf(index, 'WEBSOCKET');
  return {
    routeSelectionExpression: api.properties.RouteSelectionExpression,
    routes: routesOf(index, api, byLogicalId),
  };
};

const eventSourcesOf = (index: TemplateIndex, byLogicalId: Map<string, string>): LocalEventSource[] =>
  index.ofType('AWS::Lambda::EventSourceMapping').map(({ logicalId, properties }) => ({
    functionId: functionIdOf(index, byLogicalId, properties.FunctionName, logicalId),
    queue: index.target(properties.EventSourceArn, 'AWS::SQS::Queue', logicalId).logicalId,
    // Lambda's defaults for SQS sources.
    batchSize: properties.BatchSize ?? 10,
    maxBatchingWindowSeconds: properties.MaximumBatchingWindowInSeconds ?? 0,
    reportBatchItemFailures: (properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
  }));

/**
 * The local model of a stage from its templates (by stack name). Pure: no CDK, no file system.
 *
 * @example
 * const model = modelFromTemplates({ 'Tenantic-dev-Data': data, 'Tenantic-dev-Api': api }, 'dev');
 */
export const modelFromTemplates = (
  templates: Readonly<Record<string, CfnTemplate>>,
  stage: string,
): LocalPlatformModel => {
  const index = new TemplateIndex(templates);
  const functions = functionsOf(index, templates);
  const byLogicalId = new Map(functions.map((fn) => [fn.logicalId, fn.id]));
  return {
    stage,
    tables: tablesOf(index),
    queues: queuesOf(index),
    buckets: bucketsOf(index),
    functions,
    httpApi: httpApiOf(index, byLogicalId),
    webSocketApi: webSocketApiOf(index, byLogicalId),
    eventSources: eventSourcesOf(index, byLogicalId),
  };
};

export interface LoadLocalModelOptions {
  readonly stage: string;
  /** Stage config directory (default `config/stages`). */
  readonly configDir?: string;
}

/**
 * Builds the stage's CDK app in-process without bundling, synthesizes it, and reads its templates.
 *
 * @example
 * const model = await loadLocalModel({ stage: 'dev' });
 * model.httpApi.routes.find((route) => route.routeKey === 'GET /v1/models');
 */
export const loadLocalModel = async (options: LoadLocalModelOptions): Promise<LocalPlatformModel> => {
  const { app, dataStack, apiStack, config } = buildApp({
    stage: options.stage,
    ...(options.configDir ? { configDir: options.configDir } : {}),
    context: { 'aws:cdk:bundling-stacks': [] },
  });
  const assembly = app.synth();
  try {
    const templates = Object.fromEntries(
      [dataStack, apiStack].map((stack) => [
        stack.stackName,
        assembly.getStackByName(stack.stackName).template,
      ]),
    );
    return modelFromTemplates(templates, config.stage);
  } finally {
    // The app wrote its assembly to a fresh temporary directory; only the templates were needed.
    rmSync(assembly.directory, { recursive: true, force: true });
  }
};
