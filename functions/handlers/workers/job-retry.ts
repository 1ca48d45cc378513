// Handlers: the retry backoff of one queue's consumer, wired from its environment (set by the CDK app
// from the stage config; see lib/constructs/function-environment.ts#consumerEnvironment).
import { z } from 'zod';
import { sqs } from '../../adapters/aws-clients';
import { SqsMessageVisibility } from '../../adapters/sqs/message-visibility';
import { ConfigError } from '../../config';
import type { JobRetry } from '../../core/jobs/retry-policy';
import { ENV } from '../../platform/env';
import { QUEUES, type QueueName } from '../../platform/queues';

const positive = z.coerce.number().int().positive();

/**
 * The consumer's JobRetry, or a ConfigError at cold start naming the missing or malformed variable.
 *
 * @example
 * export const handler = createToolJobsHandler({ registry, logger, retry: queueRetry('toolJobs') });
 */
export const queueRetry = (queue: QueueName, env: NodeJS.ProcessEnv = process.env): JobRetry => {
  const definition = QUEUES[queue];
  const parsed = z
    .object({
      [definition.envVar]: z.string().min(1),
      [ENV.queueMaxReceiveCount]: positive,
      [ENV.queueVisibilityTimeout]: positive,
    })
    .safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => String(issue.path[0])).join(', ');
    throw new ConfigError(`missing or malformed environment variable(s) for ${queue} retries: ${names}`);
  }
  const values = parsed.data as Record<string, string | number>;
  return {
    visibility: new SqsMessageVisibility(sqs(), String(values[definition.envVar])),
    policy: {
      baseSeconds: definition.retryBaseSeconds,
      capSeconds: definition.retryCapSeconds,
      maxReceiveCount: Number(values[ENV.queueMaxReceiveCount]),
      visibilityTimeoutSeconds: Number(values[ENV.queueVisibilityTimeout]),
    },
  };
};
