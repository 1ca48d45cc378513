// Adapter: JobQueue on SQS: one SendMessage per job, the envelope as the JSON body.
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { UpstreamError } from '../../core/errors';
import { type JobEnvelope, JobEnvelopeSchema } from '../../core/jobs/schemas';
import type { JobQueue } from '../../core/ports/job-queue';

/**
 * @example
 * const jobs = new SqsJobQueue(new SQSClient({}), process.env.CHAT_RUNS_QUEUE_URL);
 * await jobs.enqueue({ type: 'run.execute', tenant_id, id: runId, payload: { session_id } });
 */
export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(envelope: JobEnvelope, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    // A malformed envelope would only be dead-lettered by the consumer: refuse it here, where the bug is.
    const body = JSON.stringify(JobEnvelopeSchema.parse(envelope));
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: body,
          ...(options.delaySeconds !== undefined && { DelaySeconds: options.delaySeconds }),
          MessageAttributes: {
            job_type: { DataType: 'String', StringValue: envelope.type },
            tenant_id: { DataType: 'String', StringValue: envelope.tenant_id },
          },
        }),
      );
    } catch (error) {
      throw new UpstreamError('queue_unavailable', 'The work queue could not be reached; retry shortly.', {
        statusCode: 503,
        cause: error,
      });
    }
  }
}
