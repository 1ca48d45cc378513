// CDK stack: the stateless half of a stage: functions, the HTTP and WebSocket APIs, alarms.
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../functions/platform/functions';
import type { StageConfig } from './config/stages';
import { HttpApi } from './constructs/http-api';
import { acknowledgeFunctionFindings } from './constructs/nag-acknowledgements';
import { Observability } from './constructs/observability';
import { ServerlessFunction } from './constructs/serverless-function';
import { WebSocketApi } from './constructs/websocket-api';
import type { DataStack } from './data-stack';

export interface ApiStackProps extends StackProps {
  readonly config: StageConfig;
  readonly data: DataStack;
}

const pascal = (id: string): string =>
  id
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/**
 * One ServerlessFunction per catalogue entry, wired to the data stack's resources, behind both APIs.
 *
 * @example
 * new ApiStack(app, 'Tenantic-dev-Api', { config, data });
 */
export class ApiStack extends Stack {
  readonly functions: Readonly<Record<FunctionId, ServerlessFunction>>;
  readonly httpApi: HttpApi;
  readonly webSocketApi: WebSocketApi;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    // Nothing here holds state worth keeping except logs, which follow the stage's policy too.
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.webSocketApi = new WebSocketApi(this, 'WebSocketApi', { config, removalPolicy });
    const resources = {
      tables: data.data.tables,
      queues: data.queues.queues,
      bucket: data.data.bucket,
      adminKey: data.data.adminKey,
      llmApiKeys: data.data.llmApiKeys,
      wsManagementEndpoint: this.webSocketApi.managementEndpoint,
    };
    const functions = {} as Record<FunctionId, ServerlessFunction>;
    for (const [fnId, definition] of Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][]) {
      functions[fnId] = new ServerlessFunction(this, pascal(fnId), {
        id: fnId,
        definition,
        config,
        resources,
        removalPolicy,
        grantManageConnections: (grantee) => this.webSocketApi.grantManageConnections(grantee),
      });
      acknowledgeFunctionFindings(functions[fnId]);
    }
    this.functions = functions;
    const handlers = Object.fromEntries(
      Object.entries(functions).map(([fnId, fn]) => [fnId, fn.function as lambda.IFunction]),
    ) as Record<FunctionId, lambda.IFunction>;

    this.webSocketApi.addRoutes(handlers);
    this.httpApi = new HttpApi(this, 'HttpApi', { config, functions: handlers, removalPolicy });
    this.observability = new Observability(this, 'Observability', {
      config,
      removalPolicy,
      functions: handlers,
      deadLetterQueues: data.queues.deadLetterQueues,
      httpApi: this.httpApi.api,
      webSocketStage: this.webSocketApi.stage,
    });

    new CfnOutput(this, 'HttpApiUrl', { value: this.httpApi.url });
    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketApi.url });
    new CfnOutput(this, 'WebSocketManagementEndpoint', { value: this.webSocketApi.managementEndpoint });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
  }
}
