// Adapters: one lazily created SDK v3 client per service, shared by every adapter in a function.
// Endpoints come from the SDK's own AWS_ENDPOINT_URL_<SERVICE> variables, which the local platform
// sets to its emulators; in the cloud they are unset and the regional endpoints are used. Every client
// counts its requests for the invocation's tally (observability/aws-requests), is traced in X-Ray
// (Powertools Tracer, off locally and in tests) and skips the SDK's own request logging, which we never
// turn on but whose sensitive-data filter would otherwise walk every input and output.
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { MiddlewareStack } from '@smithy/types';
import { AWS_SDK_MAX_ATTEMPTS } from '../core/resilience/retry-policy';
import { countAwsRequests } from '../observability/aws-requests';
import { tracer } from '../observability/tracer';
import { ENV } from '../platform/env';

let documentClient: DynamoDBDocumentClient | undefined;
let sqsClient: SQSClient | undefined;
let s3Client: S3Client | undefined;
let secretsClient: SecretsManagerClient | undefined;
const managementClients = new Map<string, ApiGatewayManagementApiClient>();

/**
 * Our set-up of every SDK client: its requests counted under `service`, and without the SDK's logger
 * middleware (it filters each call's input and output for a logger that is a no-op unless one is given).
 */
const instrument = <Input extends object, Output extends object>(
  stack: MiddlewareStack<Input, Output>,
  service: string,
): void => {
  stack.remove('loggerMiddleware');
  countAwsRequests(stack, service);
};

/** Each call an X-Ray subsegment (Powertools Tracer; nothing at all where tracing is off). */
const traced = <Client>(client: Client): Client => tracer().captureAWSv3Client(client);

/**
 * A DynamoDB client set up as every function's: requests counted, native JS values, `undefined`
 * attributes dropped rather than rejected. For a client of one's own (a test's, on its own endpoint).
 */
export const instrumentedDocumentClient = (client: DynamoDBClient): DynamoDBDocumentClient => {
  instrument(client.middlewareStack, 'dynamodb');
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
};

/** The functions' shared DynamoDB client (see instrumentedDocumentClient). */
export const dynamoDocumentClient = (): DynamoDBDocumentClient => {
  if (!documentClient) {
    const client = traced(new DynamoDBClient({ maxAttempts: AWS_SDK_MAX_ATTEMPTS.dynamodb }));
    instrument(client.middlewareStack, 'dynamodb');
    documentClient = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }
  return documentClient;
};

export const sqs = (): SQSClient => {
  if (!sqsClient) {
    sqsClient = traced(new SQSClient({ maxAttempts: AWS_SDK_MAX_ATTEMPTS.sqs }));
    instrument(sqsClient.middlewareStack, 'sqs');
  }
  return sqsClient;
};

export const s3 = (): S3Client => {
  if (!s3Client) {
    s3Client = traced(
      new S3Client({
        maxAttempts: AWS_SDK_MAX_ATTEMPTS.s3,
        forcePathStyle: process.env[ENV.s3ForcePathStyle] === 'true',
        requestChecksumCalculation: 'WHEN_REQUIRED',
      }),
    );
    instrument(s3Client.middlewareStack, 's3');
  }
  return s3Client;
};

export const secretsManager = (): SecretsManagerClient => {
  if (!secretsClient) {
    secretsClient = traced(new SecretsManagerClient({ maxAttempts: AWS_SDK_MAX_ATTEMPTS.secretsManager }));
    instrument(secretsClient.middlewareStack, 'secretsmanager');
  }
  return secretsClient;
};

/** The @connections client for one WebSocket API endpoint (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`). */
export const apiGatewayManagement = (endpoint: string): ApiGatewayManagementApiClient => {
  let client = managementClients.get(endpoint);
  if (!client) {
    // One attempt: ApiGatewayConnectionNotifier owns the throttling retry (CONNECTION_POST); the SDK's own
    // retries inside each of its tries would multiply them on live traffic (see core/resilience).
    client = traced(
      new ApiGatewayManagementApiClient({ endpoint, maxAttempts: AWS_SDK_MAX_ATTEMPTS.apigatewayManagement }),
    );
    instrument(client.middlewareStack, 'apigateway');
    managementClients.set(endpoint, client);
  }
  return client;
};
