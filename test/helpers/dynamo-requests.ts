// Counting DynamoDB requests in tests with the platform's own SDK middleware (the per-invocation tally of
// functions/observability/aws-requests), so the figures the issue budgets are checked the way they are
// reported in the access log and the benchmark.
import { instrumentedDocumentClient } from '../../functions/adapters/aws-clients';
import { awsRequestTally, startAwsRequestTally } from '../../functions/observability/aws-requests';

/** A document client set up as the functions' own, so its requests are counted. */
export const countedDocumentClient = instrumentedDocumentClient;

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
