// Handler: consumer of the chat-runs queue; dispatches each job envelope by type, reports partial failures.
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runExecuteJob } from '../../core/chat/run-execute-job';
import { processJobBatch } from '../../core/jobs/process-job-batch';
import { createJobRegistry, type JobRegistry } from '../../core/jobs/registry';
import type { JobRetry } from '../../core/jobs/retry-policy';
import { type SqsLambdaContext, sqsBatch, toQueueMessage } from '../../middleware/sqs-batch';
import { createLogger, type Logger } from '../../observability/logger';
import { chatDeps, tenantStore } from '../wiring';
import { queueRetry } from './job-retry';

/** `run.execute`: continue a run from its persisted steps (see core/chat/run-execute-job.ts). */
export const CHAT_RUN_JOBS: JobRegistry = createJobRegistry([runExecuteJob(chatDeps, tenantStore)]);

export interface ChatRunsWorkerDeps {
  registry: JobRegistry;
  logger: Logger;
  /** Backoff of failed messages and final-failure hooks; without it, the queue's visibility timeout rules. */
  retry?: JobRetry;
}

export const createChatRunsHandler = ({ registry, logger, retry }: ChatRunsWorkerDeps) =>
  middy<SQSEvent, SQSBatchResponse, Error, SqsLambdaContext>()
    .use(sqsBatch({ logger, queue: 'chat-runs' }))
    .handler((event, context, { signal }) =>
      processJobBatch(event.Records.map(toQueueMessage), {
        registry,
        logger: context.log,
        signal,
        ...(retry && { retry }),
      }),
    );

export const handler = createChatRunsHandler({
  registry: CHAT_RUN_JOBS,
  logger: createLogger({ service: 'chat-worker' }),
  retry: queueRetry('chatRuns'),
});
