// Handler: consumer of the tool-jobs queue; dispatches each job envelope by type, reports partial failures.
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { processJobBatch } from '../../core/jobs/process-job-batch';
import { createJobRegistry, type JobRegistry } from '../../core/jobs/registry';
import type { JobRetry } from '../../core/jobs/retry-policy';
import { type SqsLambdaContext, sqsBatch, toQueueMessage } from '../../middleware/sqs-batch';
import { createLogger, type Logger } from '../../observability/logger';
import { queueRetry } from './job-retry';

/** Empty in this version: no tool job type exists yet; the tools issue registers `tool.invoke`. */
export const TOOL_JOBS: JobRegistry = createJobRegistry([]);

export interface ToolJobsWorkerDeps {
  registry: JobRegistry;
  logger: Logger;
  /** Backoff of failed messages and final-failure hooks; without it, the queue's visibility timeout rules. */
  retry?: JobRetry;
}

export const createToolJobsHandler = ({ registry, logger, retry }: ToolJobsWorkerDeps) =>
  middy<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>()
    .use(sqsBatch({ logger, queue: 'tool-jobs' }))
    .handler((event, context, { signal }) =>
      processJobBatch(event.Records.map(toQueueMessage), {
        registry,
        logger: context.log,
        signal,
        ...(retry && { retry }),
      }),
    );

export const handler = createToolJobsHandler({
  registry: TOOL_JOBS,
  logger: createLogger({ service: 'tool-worker' }),
  retry: queueRetry('toolJobs'),
});
