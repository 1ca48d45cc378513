// Local platform and operations: inspect and redrive a work queue's dead-letter queue. Locally (fauxqs
// has no StartMessageMoveTask) by receive → send → delete; in the cloud with SQS's own message move tasks.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  ListQueuesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { QUEUES, type QueueName } from '../functions/platform/queues';
import { queueUrlOnEndpoint } from './clients';

/** The queue names operators type, and the manifest entry each stands for. */
export const OPERATOR_QUEUES: Readonly<Record<string, QueueName>> = {
  'chat-runs': 'chatRuns',
  'tool-jobs': 'toolJobs',
};

export interface DeadLetterPair {
  readonly sourceUrl: string;
  readonly sourceArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface DeadLetterSummary {
  readonly messageId: string;
  /** How often the DLQ message has been received (SQS `ApproximateReceiveCount`, listing included). */
  readonly receiveCount: number;
  /** When the message was first sent (ISO 8601), as SQS keeps it across the redrive. */
  readonly firstSeenAt: string | undefined;
  /** The first 200 characters of the body. */
  readonly bodyPreview: string;
  readonly bodyBytes: number;
}

const PREVIEW_CHARS = 200;
/** Long enough to read a page of messages, short enough that an interrupted listing heals by itself. */
const PEEK_VISIBILITY_SECONDS = 20;
/** Long enough to send one message on and delete it; if interrupted, the message comes back to the DLQ. */
const MOVE_VISIBILITY_SECONDS = 30;

const nameOfArn = (arn: string): string => arn.split(':').at(-1) ?? arn;

/**
 * Finds a work queue and its DLQ on an SQS endpoint by the manifest's construct id (local queue names are
 * the template's logical ids): the source is the queue with a redrive policy, the DLQ what it points at.
 *
 * @example
 * const pair = await findDeadLetterPair(sqs, 'chatRuns', 'http://127.0.0.1:4566');
 */
export const findDeadLetterPair = async (
  sqs: SQSClient,
  queue: QueueName,
  endpoint: string,
): Promise<DeadLetterPair> => {
  const listed = await sqs.send(new ListQueuesCommand({ MaxResults: 1000 }));
  const urls = (listed.QueueUrls ?? []).map((url) => queueUrlOnEndpoint(endpoint, url));
  for (const url of urls) {
    const name = new URL(url).pathname.split('/').at(-1) ?? '';
    if (!name.includes(QUEUES[queue].id) || name.includes(`${QUEUES[queue].id}Dlq`)) continue;
    const { Attributes: attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy'] }),
    );
    if (!attributes.RedrivePolicy || !attributes.QueueArn) continue;
    const dlqArn = (JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn: string })
      .deadLetterTargetArn;
    const dlqUrl = urls.find((candidate) => candidate.endsWith(`/${nameOfArn(dlqArn)}`));
    if (!dlqUrl) throw new Error(`the DLQ ${nameOfArn(dlqArn)} of ${name} is not on ${endpoint}`);
    return { sourceUrl: url, sourceArn: attributes.QueueArn, dlqUrl, dlqArn };
  }
  throw new Error(`no queue for '${queue}' (${QUEUES[queue].id}) with a redrive policy on ${endpoint}`);
};

/**
 * `https://sqs.{region}.amazonaws.com/{account}/{name}` from a queue ARN (the cloud's URL format).
 *
 * @example
 * queueUrlOfArn('arn:aws:sqs:eu-west-1:123456789012:jobs-dlq'); // 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-dlq'
 */
export const queueUrlOfArn = (arn: string): string => {
  const [, partition, service, region, account, name] = arn.split(':');
  if (service !== 'sqs' || !region || !account || !name) throw new Error(`not an SQS queue ARN: ${arn}`);
  const suffix = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
};

const summarize = (message: Message): DeadLetterSummary => {
  const body = message.Body ?? '';
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    messageId: message.MessageId ?? '',
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    firstSeenAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined,
    bodyPreview: body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS)}…` : body,
    bodyBytes: Buffer.byteLength(body),
  };
};

/**
 * Lists up to `max` messages of a DLQ without consuming them: each is received with a short visibility
 * timeout, then made visible again at once. Receiving raises a message's receive count; the DLQ has no
 * redrive policy of its own, so that is harmless. If the listing is interrupted, the messages reappear
 * after 20 seconds by themselves.
 *
 * @example
 * for (const item of await peekDeadLetters(sqs, pair.dlqUrl)) console.log(item.messageId, item.bodyPreview);
 */
export const peekDeadLetters = async (
  sqs: SQSClient,
  dlqUrl: string,
  max = 100,
): Promise<DeadLetterSummary[]> => {
  const seen = new Map<string, Message>();
  while (seen.size < max) {
    const { Messages: page = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(10, max - seen.size),
        VisibilityTimeout: PEEK_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const fresh = page.filter((message) => message.MessageId && !seen.has(message.MessageId));
    if (fresh.length === 0) break;
    for (const message of fresh) seen.set(message.MessageId!, message);
  }
  const handles = [...seen.values()];
  for (let index = 0; index < handles.length; index += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: dlqUrl,
        Entries: handles.slice(index, index + 10).map((message, position) => ({
          Id: String(position),
          ReceiptHandle: message.ReceiptHandle!,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return handles.map(summarize);
};

const forwardable = (
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined => {
  if (!attributes || Object.keys(attributes).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        DataType: value.DataType ?? 'String',
        ...(value.StringValue !== undefined && { StringValue: value.StringValue }),
        ...(value.BinaryValue !== undefined && { BinaryValue: value.BinaryValue }),
      },
    ]),
  );
};

export interface LocalRedriveResult {
  readonly moved: string[];
}

/**
 * Moves up to `max` messages from the DLQ back to the source queue, one at a time: receive (hidden for
 * 30 s), send the same body and message attributes to the source, then delete it from the DLQ. A message
 * is deleted only after the source accepted its copy, so an interruption loses nothing; at worst (stopped
 * between send and delete) the message reappears in the DLQ and a later redrive sends it twice, which the
 * consumers' idempotency absorbs. The moved message is a new message to SQS: new id, receive count 0.
 *
 * @example
 * const { moved } = await redriveLocally(sqs, pair, { max: 10 });
 */
export const redriveLocally = async (
  sqs: SQSClient,
  pair: Pick<DeadLetterPair, 'sourceUrl' | 'dlqUrl'>,
  options: { readonly max?: number; readonly onMoved?: (messageId: string) => void } = {},
): Promise<LocalRedriveResult> => {
  const max = options.max ?? Number.POSITIVE_INFINITY;
  const moved: string[] = [];
  while (moved.length < max) {
    const { Messages: [message] = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pair.dlqUrl,
        MaxNumberOfMessages: 1,
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    // A message seen twice would mean its delete did not take: stop rather than send it again and again.
    if (!message?.ReceiptHandle || !message.MessageId || moved.includes(message.MessageId)) break;
    const attributes = forwardable(message.MessageAttributes);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: pair.sourceUrl,
        MessageBody: message.Body ?? '',
        ...(attributes && { MessageAttributes: attributes }),
      }),
    );
    await sqs.send(new DeleteMessageCommand({ QueueUrl: pair.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
    moved.push(message.MessageId);
    options.onMoved?.(message.MessageId);
  }
  return { moved };
};

/**
 * Cloud: starts SQS's own redrive of the DLQ into its source queue (StartMessageMoveTask), optionally
 * rate-limited, and returns the task handle.
 *
 * @example
 * await startCloudRedrive(sqs, { dlqArn, sourceArn, maxPerSecond: 10 });
 */
export const startCloudRedrive = async (
  sqs: SQSClient,
  input: { readonly dlqArn: string; readonly sourceArn: string; readonly maxPerSecond?: number },
): Promise<string | undefined> => {
  const started = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: input.dlqArn,
      DestinationArn: input.sourceArn,
      ...(input.maxPerSecond !== undefined && { MaxNumberOfMessagesPerSecond: input.maxPerSecond }),
    }),
  );
  return started.TaskHandle;
};

/**
 * Cloud: the DLQ's recent message move tasks (running, completed, failed), newest first.
 *
 * @example
 * const tasks = await listCloudRedrives(sqs, dlqArn);
 */
export const listCloudRedrives = async (
  sqs: SQSClient,
  dlqArn: string,
): Promise<ListMessageMoveTasksResultEntry[]> => {
  const listed = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 10 }));
  return listed.Results ?? [];
};
