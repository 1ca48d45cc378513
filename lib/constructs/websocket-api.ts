// CDK construct: the WebSocket API, routes from the route table, a Lambda authorizer on $connect.
import { type CfnElement, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionId } from '../../functions/platform/functions';
import {
  type WebSocketRoute,
  WS_ROUTE_SELECTION_EXPRESSION,
  WS_ROUTES,
} from '../../functions/platform/routes';
import type { StageConfig } from '../config/stages';

export interface WebSocketApiProps {
  readonly config: StageConfig;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Built in two steps because functions need the management endpoint in their environment before the routes
 * can point at them: construct it, create the functions, then `addRoutes(functions)`.
 *
 * @example
 * const ws = new WebSocketApi(this, 'WebSocketApi', { config, removalPolicy });
 * ws.addRoutes(functions);
 */
export class WebSocketApi extends Construct {
  readonly api: apigw.WebSocketApi;
  readonly stage: apigw.WebSocketStage;
  readonly accessLogs: logs.LogGroup;
  /** `wss://…/{stage}`: what clients connect to. */
  readonly url: string;
  /** `https://{apiId}.execute-api.{region}.{urlSuffix}/{stage}`: the @connections management endpoint. */
  readonly managementEndpoint: string;
  private readonly config: StageConfig;

  constructor(scope: Construct, id: string, props: WebSocketApiProps) {
    super(scope, id);
    this.config = props.config;
    this.api = new apigw.WebSocketApi(this, 'Api', {
      apiName: `tenantic-${props.config.stage}-ws`,
      routeSelectionExpression: WS_ROUTE_SELECTION_EXPRESSION,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.config.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.stage = new apigw.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.config.stage,
      autoDeploy: true,
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(this.accessLogs) },
      throttle: { rateLimit: 100, burstLimit: 200 },
    });
    this.url = this.stage.url;
    const stack = Stack.of(this);
    this.managementEndpoint = `https://${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}/${this.stage.stageName}`;
  }

  /** `execute-api:ManageConnections` on this stage's `@connections/*` only. */
  grantManageConnections(grantee: iam.IGrantable): void {
    this.stage.grantManagementApiAccess(grantee);
    const policy = (grantee.grantPrincipal as iam.Role).node.tryFindChild('DefaultPolicy');
    const apiLogicalId = Stack.of(this).getLogicalId(this.api.node.defaultChild as CfnElement);
    if (policy) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiLogicalId}>/${this.stage.stageName}/*/@connections/*]`,
        reason:
          'Connection ids are assigned by API Gateway at runtime, so @connections/* cannot be narrowed further; ' +
          'the grant is limited to this API and this stage.',
      });
    }
  }

  addRoutes(
    functions: Readonly<Record<FunctionId, lambda.IFunction>>,
    routes: readonly WebSocketRoute[] = WS_ROUTES,
  ) {
    // No identity source: $connect may authenticate with an Authorization header or a `?ticket=` query
    // string, and API Gateway rejects a connect that lacks any listed source before calling the authorizer.
    const authorizer = new WebSocketLambdaAuthorizer('Authorizer', functions['authorizer-ws'], {
      authorizerName: `tenantic-${this.config.stage}-ws`,
      identitySource: [],
    });
    for (const route of routes) {
      const isConnect = route.routeKey === '$connect';
      const created = this.api.addRoute(route.routeKey, {
        integration: new WebSocketLambdaIntegration(
          `${route.routeKey}-integration`,
          functions[route.function],
        ),
        authorizer: isConnect ? authorizer : undefined,
      });
      if (!isConnect) {
        Validations.of(created).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `WebSocket APIs authorize only on $connect; ${route.routeKey} runs on a connection the authorizer already admitted.`,
        });
      }
    }
  }
}
