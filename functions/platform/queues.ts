// Platform manifest: the SQS work queues and their consumers' settings, shared by the CDK app and the workers.
import { ENV } from './env';

export interface QueueDefinition {
  /** Construct id in the data stack. */
  readonly id: string;
  readonly envVar: string;
  /** Records per Lambda invocation. */
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /**
   * Retry backoff of a failed message (ChangeMessageVisibility, full jitter): the first retry waits up to
   * `retryBaseSeconds`, each further one up to twice as long, never more than `retryCapSeconds` (nor the
   * queue's visibility timeout, nor SQS's 12 hours).
   */
  readonly retryBaseSeconds: number;
  readonly retryCapSeconds: number;
}

export const QUEUES = {
  // A run that failed is a user waiting: retry soon, but not into the same upstream outage.
  chatRuns: {
    id: 'ChatRunsQueue',
    envVar: ENV.chatRunsQueueUrl,
    batchSize: 1,
    maxBatchingWindowSeconds: 0,
    retryBaseSeconds: 2,
    retryCapSeconds: 60,
  },
  // Tool jobs call tenants' webhooks, which may be down for minutes: back off further.
  toolJobs: {
    id: 'ToolJobsQueue',
    envVar: ENV.toolJobsQueueUrl,
    batchSize: 5,
    maxBatchingWindowSeconds: 1,
    retryBaseSeconds: 5,
    retryCapSeconds: 300,
  },
} as const satisfies Record<string, QueueDefinition>;

export type QueueName = keyof typeof QUEUES;
