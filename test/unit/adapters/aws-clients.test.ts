import { describe, expect, it } from 'vitest';
import {
  apiGatewayManagement,
  dynamoDocumentClient,
  s3,
  secretsManager,
  sqs,
} from '../../../functions/adapters/aws-clients';
import { AWS_SDK_MAX_ATTEMPTS } from '../../../functions/core/resilience/retry-policy';

const middlewareNames = (client: { middlewareStack: { identify(): string[] } }) =>
  client.middlewareStack.identify().map((entry) => entry.split(' ')[0]);

describe('the shared SDK clients', () => {
  it.each([
    ['dynamodb', () => dynamoDocumentClient()],
    ['sqs', () => sqs()],
    ['s3', () => s3()],
    ['secretsmanager', () => secretsManager()],
    ['apigateway', () => apiGatewayManagement('https://abc.execute-api.eu-west-1.amazonaws.com/dev')],
  ])(
    '%s counts its requests for the invocation tally and runs without the SDK logger middleware',
    (_, make) => {
      const names = middlewareNames(make());
      expect(names).toContain('tenanticAwsRequestTally');
      expect(names).not.toContain('loggerMiddleware');
    },
  );

  it.each([
    ['dynamodb', AWS_SDK_MAX_ATTEMPTS.dynamodb, () => dynamoDocumentClient()],
    ['sqs', AWS_SDK_MAX_ATTEMPTS.sqs, () => sqs()],
    ['s3', AWS_SDK_MAX_ATTEMPTS.s3, () => s3()],
    ['secretsmanager', AWS_SDK_MAX_ATTEMPTS.secretsManager, () => secretsManager()],
    [
      'apigateway',
      AWS_SDK_MAX_ATTEMPTS.apigatewayManagement,
      () => apiGatewayManagement('https://abc.execute-api.eu-west-1.amazonaws.com/dev'),
    ],
  ])('%s makes the attempts its retry budget gives it (%i)', async (_, attempts, make) => {
    const client = make() as { config: { maxAttempts: () => Promise<number> } };
    expect(await client.config.maxAttempts()).toBe(attempts);
  });

  it('a plain SDK client has the logger middleware this set-up removes', async () => {
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    expect(middlewareNames(new SQSClient({ region: 'eu-west-1' }))).toContain('loggerMiddleware');
  });
});
