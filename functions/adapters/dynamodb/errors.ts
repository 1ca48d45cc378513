// Adapter: DynamoDB failures every store translates the same way.
import { UpstreamError } from '../../core/errors';

const THROTTLES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);

export const errorName = (error: unknown): string | undefined =>
  error instanceof Error ? error.name : undefined;

/** Throttling and service faults are the platform's problem, not the caller's: 503, retryable. */
export const translateDynamoError = (error: unknown): unknown =>
  THROTTLES.has(errorName(error) ?? '')
    ? new UpstreamError('storage_unavailable', 'The data store is busy; retry shortly.', {
        statusCode: 503,
        cause: error,
        headers: { 'Retry-After': '1' },
      })
    : error;

/** The cancellation reason codes of a failed TransactWrite, one per item, in order. */
export const cancellationCodes = (error: unknown): (string | undefined)[] | undefined => {
  if (errorName(error) !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return reasons?.map((reason) => reason.Code);
};
