// Middleware: SQS batch plumbing for the queue workers: a logger per invocation, records as QueueMessages,
// and the batch itself on Powertools Batch (each record on its own, ReportBatchItemFailures for the failed).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type ProcessJobBatchDeps, processJobMessage } from '../core/jobs/process-job-batch';
import type { QueueMessage } from '../core/jobs/schemas';
import type { Logger } from '../observability/logger';
import { platformMetrics } from '../observability/powertools-metrics';
import { invocationTracing } from '../observability/tracer';

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

  // The invocation's X-Ray subsegment, opened first and closed last.
  const trace = invocationTracing();

  const sqsBatchBefore = (request: Request<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>) => {
    trace.before?.(request as never);
    logger.newInvocation?.();
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
    trace.onError?.(request as never);
  };

  const sqsBatchAfter = (request: Request<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>) => {
    trace.after?.(request as never);
  };

  return { before: sqsBatchBefore, after: sqsBatchAfter, onError: sqsBatchOnError, name: 'sqsBatch' };
};

/**
 * Runs each record's job on its own, side by side, with Powertools' BatchProcessor: one failure (a poison
 * body, an unknown type, a thrown job) never fails the others, and never throws the whole batch back to
 * the queue, even when every record failed (`throwOnFullBatchFailure: false`: each failed message was
 * already backed off or dead-lettered on its own). Dead-letter moves are counted in `deps.metrics`
 * (default: the function's Powertools metrics).
 *
 * @example
 * const result = await processJobBatch(event.Records, { registry: TOOL_JOBS, logger, queue: 'tool-jobs' });
 * // { batchItemFailures: [{ itemIdentifier: '<messageId of each failed message>' }] }
 */
export const processJobBatch = async (
  records: readonly SQSRecord[],
  deps: ProcessJobBatchDeps,
): Promise<SQSBatchResponse> => {
  const withMetrics = { ...deps, metrics: deps.metrics ?? platformMetrics() };
  const result = await processPartialResponse(
    { Records: [...records] },
    (record: SQSRecord) => processJobMessage(toQueueMessage(record), withMetrics),
    new BatchProcessor(EventType.SQS),
    { throwOnFullBatchFailure: false },
  );
  deps.logger.info('batch processed', {
    received: records.length,
    failed: result.batchItemFailures.length,
  });
  return result;
};
