// CDK construct: the HTTP API, one route per row of the route table, with one cached Lambda authorizer.
import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionId } from '../../functions/platform/functions';
import { HTTP_ROUTES, type HttpRoute } from '../../functions/platform/routes';
import type { StageConfig } from '../config/stages';

const HTTP_AUTHORIZER_IDENTITY_SOURCE = '$request.header.Authorization';

export interface HttpApiProps {
  readonly config: StageConfig;
  readonly functions: Readonly<Record<FunctionId, lambda.IFunction>>;
  readonly removalPolicy: RemovalPolicy;
  readonly routes?: readonly HttpRoute[];
}

/**
 * `$default` stage with auto deploy, access logs and throttling; tenant and admin routes share the
 * `authorizer-http` REQUEST authorizer (simple responses), public routes have none.
 *
 * @example
 * const api = new HttpApi(this, 'HttpApi', { config, functions, removalPolicy });
 */
export class HttpApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  readonly url: string;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    const { config, functions } = props;
    const cors: apigw.CorsPreflightOptions | undefined =
      config.corsOrigins.length > 0
        ? {
            allowOrigins: [...config.corsOrigins],
            allowMethods: [apigw.CorsHttpMethod.ANY],
            allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-session-id'],
            exposeHeaders: [
              'retry-after',
              'x-request-id',
              'x-ratelimit-limit-requests',
              'x-ratelimit-remaining-requests',
            ],
            maxAge: Duration.hours(1),
          }
        : undefined;
    this.api = new apigw.HttpApi(this, 'Api', {
      apiName: `tenantic-${config.stage}`,
      createDefaultStage: false,
      corsPreflight: cors,
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(this.accessLogs) },
      throttle: { rateLimit: 100, burstLimit: 200 },
    });
    this.url = this.stage.url;

    const authorizer = new HttpLambdaAuthorizer('Authorizer', functions['authorizer-http'], {
      authorizerName: `tenantic-${config.stage}-http`,
      identitySource: [HTTP_AUTHORIZER_IDENTITY_SOURCE],
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      resultsCacheTtl: Duration.seconds(config.authorizerCacheTtlSeconds),
    });
    const integrations = new Map<FunctionId, HttpLambdaIntegration>();
    const integrationOf = (fn: FunctionId): HttpLambdaIntegration => {
      let integration = integrations.get(fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${fn}-integration`, functions[fn]);
        integrations.set(fn, integration);
      }
      return integration;
    };
    for (const route of props.routes ?? HTTP_ROUTES) {
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [route.method as apigw.HttpMethod],
        integration: integrationOf(route.function),
        authorizer: route.auth === 'none' ? new apigw.HttpNoneAuthorizer() : authorizer,
      });
      if (route.auth === 'none' && created) {
        Validations.of(created).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${route.method} ${route.path} is public by design (route table auth 'none'): it serves no tenant data.`,
        });
      }
    }
  }
}
