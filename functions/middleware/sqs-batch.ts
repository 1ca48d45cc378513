// Middleware: SQS batch plumbing for the queue workers: a logger per invocation, records as QueueMessages.
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueMessage } from '../core/jobs/schemas';
import type { Logger } from '../observability/logger';

export interface SqsBatchOptions {
  logger: Logger;
  /** Queue name for the logs (`chat-runs`, `tool-jobs`). */
  queue: string;
}

/** Workers read their invocation-scoped logger from `context.log`. */
export type SqsLambdaContext = Context & { log: Logger };

const defaults: Partial<SqsBatchOptions> = {};

/**
 * The parts of an SQS record the job processor needs.
 *
 * @example
 * const messages = event.Records.map(toQueueMessage);
 */
export const toQueueMessage = (record: SQSRecord): QueueMessage => ({
  messageId: record.messageId,
  body: record.body,
  receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1) || 1,
  ...(record.receiptHandle && { receiptHandle: record.receiptHandle }),
});

/**
 * Binds a logger with the queue, batch size and request id to `context.log`. A throw that escapes the
 * processor is a bug: it is logged and rethrown, so the whole batch returns to the queue and the
 * function's error metric shows it.
 *
 * @example
 * middy<SQSEvent, SQSBatchResponse>().use(sqsBatch({ logger, queue: 'tool-jobs' })).handler(...);
 */
export const sqsBatch = (
  options: SqsBatchOptions,
): MiddlewareObj<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext> => {
  const { logger, queue } = { ...defaults, ...options };

  const sqsBatchBefore = (request: Request<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>) => {
    request.context.log = logger.child({
      queue,
      batch_size: request.event.Records?.length ?? 0,
      aws_request_id: request.context.awsRequestId,
    });
  };

  const sqsBatchOnError = (request: Request<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>) => {
    (request.context.log ?? logger).error('batch processor bug: whole batch returned to the queue', {
      error: request.error,
    });
  };

  return { before: sqsBatchBefore, onError: sqsBatchOnError, name: 'sqsBatch' };
};
