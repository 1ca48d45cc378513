// Counting DynamoDB requests in tests with the platform's own SDK middleware (the per-invocation tally of
// functions/observability/aws-requests), so the figures the issue budgets are checked the way they are
// reported in the access log and the benchmark.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  awsRequestTally,
  countAwsRequests,
  startAwsRequestTally,
} from '../../functions/observability/aws-requests';

/** A document client (set up as the functions' own) whose requests are counted. */
export const countedDocumentClient = (client: DynamoDBClient): DynamoDBDocumentClient => {
  countAwsRequests(client.middlewareStack, 'dynamodb');
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
};

/**
 * The DynamoDB operations one piece of work sent through counted clients, sorted, one entry per request.
 *
 * @example
 * expect(await dynamoRequestsOf(() => store.get(id))).toEqual(['GetItem']);
 */
export const dynamoRequestsOf = async (work: () => Promise<unknown>): Promise<string[]> => {
  startAwsRequestTally();
  await work();
  const operations = awsRequestTally().dynamodb?.operations ?? {};
  return Object.entries(operations)
    .flatMap(([operation, count]) => Array.from({ length: count }, () => operation))
    .sort();
};
