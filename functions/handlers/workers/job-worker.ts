// Handler: the one shape of every queue consumer: parse each record's job envelope, dispatch it by type
// through the queue's registry, back failures off, and report only the failed records.
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { JobRegistry } from '../../core/jobs/registry';
import type { JobRetry } from '../../core/jobs/retry-policy';
import { processJobBatch, type SqsLambdaContext, sqsBatch } from '../../middleware/sqs-batch';
import type { Logger } from '../../observability/logger';

export interface JobWorkerDeps {
  registry: JobRegistry;
  logger: Logger;
  /** Backoff of failed messages and final-failure hooks; without it, the queue's visibility timeout rules. */
  retry?: JobRetry;
}

/**
 * @example
 * export const handler = createJobWorker('tool-jobs', { registry, logger, retry: queueRetry('toolJobs') });
 */
export const createJobWorker = (queue: string, { registry, logger, retry }: JobWorkerDeps) =>
  middy<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>()
    .use(sqsBatch({ logger, queue }))
    .handler((event, context, { signal }) =>
      processJobBatch(event.Records, {
        registry,
        logger: context.log,
        queue,
        signal,
        ...(retry && { retry }),
      }),
    );
