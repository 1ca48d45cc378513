// Platform manifest: the SQS work queues and their consumers' settings, shared by the CDK app and the workers.
import { ENV } from './env';

export interface QueueDefinition {
  /** Construct id in the data stack. */
  readonly id: string;
  readonly envVar: string;
  /** Records per Lambda invocation. */
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
}

export const QUEUES = {
  chatRuns: { id: 'ChatRunsQueue', envVar: ENV.chatRunsQueueUrl, batchSize: 1, maxBatchingWindowSeconds: 0 },
  toolJobs: { id: 'ToolJobsQueue', envVar: ENV.toolJobsQueueUrl, batchSize: 5, maxBatchingWindowSeconds: 1 },
} as const satisfies Record<string, QueueDefinition>;

export type QueueName = keyof typeof QUEUES;
