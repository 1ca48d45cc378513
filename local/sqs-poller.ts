// Local platform: Lambda's SQS event source mapping. Long-polls each queue, hands batches to the consumer
// as genuine SQS events, and deletes what succeeded (ReportBatchItemFailures semantics); what is left
// becomes visible again after the queue's visibility timeout and reaches the DLQ through the redrive.
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { InvokeResult } from './lambda-runtime';
import type { LocalEventSource } from './model';

interface PolledQueue {
  readonly url: string;
  readonly arn: string;
}

export interface SqsPollerOptions {
  readonly sqs: SQSClient;
  readonly eventSources: readonly LocalEventSource[];
  /** Resolves an event source's queue reference (name or logical id) to its local URL and ARN. */
  readonly queueFor: (ref: string) => PolledQueue;
  readonly invoke: (functionId: string, event: unknown) => Promise<InvokeResult>;
  readonly region?: string;
  /** Concurrent pollers per event source (Lambda starts several). */
  readonly pollersPerSource?: number;
  /** Long-poll wait per ReceiveMessage, at most 20 s. */
  readonly waitTimeSeconds?: number;
  readonly onError?: (error: unknown, source: LocalEventSource) => void;
  /** Told about every batch once it is settled (invoked, and what succeeded deleted). */
  readonly onBatch?: (report: BatchReport) => void;
}

/** One batch the poller handed to its consumer, and how it ended. */
export interface BatchReport {
  readonly functionId: string;
  /** The event source's queue, as the model refers to it (name or logical id). */
  readonly queue: string;
  /** The records in the batch, with each one's receive count (1 on the first delivery). */
  readonly received: readonly { readonly messageId: string; readonly receiveCount: number }[];
  /** Deleted after the invocation; the rest come back after the visibility timeout (or go to the DLQ). */
  readonly deleted: readonly string[];
  /** Whether the invocation itself succeeded (a partial batch failure still counts as ok). */
  readonly ok: boolean;
}

export interface SqsPoller {
  stop(): Promise<void>;
}

const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'SenderId',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageGroupId',
  'MessageDeduplicationId',
  'DeadLetterQueueSourceArn',
  'AWSTraceHeader',
];

const toRecordAttribute = (value: MessageAttributeValue) => ({
  ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
  ...(value.BinaryValue !== undefined
    ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
    : {}),
  stringListValues: value.StringListValues ?? [],
  binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
  dataType: value.DataType ?? 'String',
});

/**
 * The SQS event Lambda builds from received messages.
 *
 * @example
 * const event = toSqsEvent(messages, 'arn:aws:sqs:us-east-1:000000000000:jobs', 'us-east-1');
 * event.Records[0].eventSource; // 'aws:sqs'
 */
const toSqsEvent = (messages: readonly Message[], queueArn: string, region: string) => ({
  Records: messages.map((message) => ({
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: Object.fromEntries(
      SYSTEM_ATTRIBUTES.flatMap((name) =>
        message.Attributes?.[name as keyof typeof message.Attributes] !== undefined
          ? [[name, message.Attributes[name as keyof typeof message.Attributes]]]
          : [],
      ),
    ),
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        toRecordAttribute(value),
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  })),
});

/**
 * Which messages to delete after an invocation. A thrown error, or a `batchItemFailures` entry whose
 * itemIdentifier is empty or not in the batch, fails the whole batch (Lambda's rule); otherwise every record
 * not listed succeeded.
 *
 * @example
 * settleBatch(messages, { ok: true, payload: { batchItemFailures: [{ itemIdentifier: id }] } }, true);
 */
export const settleBatch = (
  messages: readonly Message[],
  result: Pick<InvokeResult, 'ok'> & { payload?: unknown },
  reportBatchItemFailures: boolean,
): Message[] => {
  if (!result.ok) return [];
  if (!reportBatchItemFailures) return [...messages];
  const failures = (result.payload as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (failures === undefined || failures === null) return [...messages];
  if (!Array.isArray(failures)) return [];
  const ids = new Set(messages.map((message) => message.MessageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) return [];
    failed.add(id);
  }
  return messages.filter((message) => !failed.has(message.MessageId!));
};

/**
 * Starts polling every event source; `stop()` aborts the long polls and waits for running batches.
 *
 * @example
 * const poller = startSqsPoller({ sqs, eventSources: model.eventSources, queueFor, invoke: runtime.invoke });
 * await poller.stop();
 */
export const startSqsPoller = (options: SqsPollerOptions): SqsPoller => {
  const region = options.region ?? 'us-east-1';
  const controller = new AbortController();
  const waitTimeSeconds = Math.min(20, options.waitTimeSeconds ?? 20);

  const receive = async (queueUrl: string, max: number, waitSeconds: number): Promise<Message[]> => {
    const result = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: controller.signal },
    );
    return result.Messages ?? [];
  };

  const collectBatch = async (source: LocalEventSource, queueUrl: string): Promise<Message[]> => {
    const batch = await receive(queueUrl, source.batchSize, waitTimeSeconds);
    if (batch.length === 0 || source.maxBatchingWindowSeconds <= 0) return batch;
    // Within the batching window, keep gathering until the batch is full or the window closes.
    const closesAt = Date.now() + source.maxBatchingWindowSeconds * 1000;
    while (batch.length < source.batchSize && !controller.signal.aborted) {
      const remaining = closesAt - Date.now();
      if (remaining <= 0) break;
      const more = await receive(
        queueUrl,
        source.batchSize - batch.length,
        Math.min(20, Math.floor(remaining / 1000)),
      );
      batch.push(...more);
      if (more.length === 0 && remaining < 1000) break;
    }
    return batch;
  };

  const deleteMessages = async (queueUrl: string, messages: readonly Message[]): Promise<void> => {
    for (let index = 0; index < messages.length; index += 10) {
      const chunk = messages.slice(index, index + 10);
      await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((message, position) => ({
            Id: String(position),
            ReceiptHandle: message.ReceiptHandle!,
          })),
        }),
      );
    }
  };

  const loop = async (source: LocalEventSource): Promise<void> => {
    const queue = options.queueFor(source.queue);
    while (!controller.signal.aborted) {
      try {
        const batch = await collectBatch(source, queue.url);
        if (batch.length === 0) continue;
        const result = await options.invoke(source.functionId, toSqsEvent(batch, queue.arn, region));
        const done = settleBatch(batch, result, source.reportBatchItemFailures);
        if (done.length > 0) await deleteMessages(queue.url, done);
        options.onBatch?.({
          functionId: source.functionId,
          queue: source.queue,
          received: batch.map((message) => ({
            messageId: message.MessageId!,
            receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
          })),
          deleted: done.map((message) => message.MessageId!),
          ok: result.ok,
        });
      } catch (error) {
        if (controller.signal.aborted) break;
        options.onError?.(error, source);
        await new Promise((resolveDelay) => setTimeout(resolveDelay, 1_000));
      }
    }
  };

  const loops = options.eventSources.flatMap((source) =>
    Array.from({ length: Math.max(1, options.pollersPerSource ?? 2) }, () => loop(source)),
  );
  return {
    async stop() {
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
};
