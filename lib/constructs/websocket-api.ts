// CDK construct: the WebSocket API, routes from the route table, a Lambda authorizer on $connect.
import { type CfnElement, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv1 from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
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
  /** The region's API Gateway account setting with its CloudWatch role, when the stage config asks for it. */
  readonly apiGatewayAccount?: apigwv1.CfnAccount;
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
    if (props.config.apiGatewayAccountLogsRole) {
      this.apiGatewayAccount = this.accountCloudWatchRole();
      // The account setting must be in place before a stage with access logs is created.
      this.stage.node.addDependency(this.apiGatewayAccount);
    }
    this.url = this.stage.url;
    const stack = Stack.of(this);
    this.managementEndpoint = `https://${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}/${this.stage.stageName}`;
  }

  /**
   * WebSocket (like REST) stages write access logs through the account-level CloudWatch role of API
   * Gateway; HTTP APIs use a service-linked role instead. Without it, the stage fails to deploy.
   */
  private accountCloudWatchRole(): apigwv1.CfnAccount {
    const role = new iam.Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway account setting: writes WebSocket/REST access and execution logs',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
    });
    // The account setting outlives this stack (deleting AWS::ApiGateway::Account changes nothing), and
    // other APIs of the region may log through it: deleting the role would silently break their logs.
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new apigwv1.CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.node.addDependency(role);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for the API Gateway account role; it ' +
        'is limited to CloudWatch Logs writes, and AWS keeps it in step with what API Gateway needs to log.',
    });
    return account;
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
    // The property is deleted below rather than left as `[]`, which CloudFormation may reject.
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
    // The CfnAuthorizer exists only once a route has bound the authorizer.
    for (const child of this.node.findAll()) {
      if (child instanceof apigw.CfnAuthorizer) child.addPropertyDeletionOverride('IdentitySource');
    }
  }
}
