import { describe, expect, it } from 'vitest';
import {
  apiGatewayManagement,
  dynamoDocumentClient,
  s3,
  secretsManager,
  sqs,
} from '../../../functions/adapters/aws-clients';

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

  it('a plain SDK client has the logger middleware this set-up removes', async () => {
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    expect(middlewareNames(new SQSClient({ region: 'eu-west-1' }))).toContain('loggerMiddleware');
  });
});
