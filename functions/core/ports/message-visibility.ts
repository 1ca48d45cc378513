// Port: when a received queue message is delivered again (SQS ChangeMessageVisibility), per queue.

/**
 * Bound to one queue. `delay` hides a message the consumer just received for `seconds` from now, so its
 * next delivery happens then instead of when the queue's visibility timeout runs out. Failures throw
 * (the caller logs them and goes on: a message whose delay failed is still retried, only sooner or later).
 *
 * @example
 * const visibility: MessageVisibility = new SqsMessageVisibility(sqsClient, queueUrl);
 * await visibility.delay(record.receiptHandle, 40);
 */
export interface MessageVisibility {
  delay(receiptHandle: string, seconds: number): Promise<void>;
}
