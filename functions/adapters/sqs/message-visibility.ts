// Adapter: MessageVisibility on SQS (ChangeMessageVisibility on one queue).
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { MessageVisibility } from '../../core/ports/message-visibility';

/** SQS refuses a visibility timeout above 12 hours. */
const SQS_MAX_VISIBILITY_SECONDS = 43_200;

export class SqsMessageVisibility implements MessageVisibility {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async delay(receiptHandle: string, seconds: number): Promise<void> {
    const timeout = Math.max(0, Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.floor(seconds)));
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: timeout,
      }),
    );
  }
}
