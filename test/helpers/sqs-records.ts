// Test helper: an SQS record as Lambda delivers it, from the fields a job message is made of.
import type { SQSRecord } from 'aws-lambda';
import type { QueueMessage } from '../../functions/core/jobs/schemas';

/**
 * @example
 * await processJobBatch([sqsRecord({ messageId: 'm1', body, receiveCount: 2 })], deps);
 */
export const sqsRecord = ({ messageId, body, receiveCount, receiptHandle }: QueueMessage): SQSRecord => ({
  messageId,
  receiptHandle: receiptHandle ?? '',
  body,
  attributes: {
    ApproximateReceiveCount: String(receiveCount),
    SentTimestamp: '1796688000000',
    SenderId: 'AIDAEXAMPLE',
    ApproximateFirstReceiveTimestamp: '1796688000001',
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:tenantic-dev-jobs',
  awsRegion: 'us-east-1',
});
