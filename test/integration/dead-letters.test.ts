// Integration: DLQ operations against fauxqs (its own instance, so no other test's queues are in the
// listing): find the pair by the manifest id, list without consuming, redrive exactly once.
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../functions/platform/queues';
import { queueUrlOnEndpoint } from '../../local/clients';
import {
  type DeadLetterPair,
  findDeadLetterPair,
  peekDeadLetters,
  redriveLocally,
} from '../../local/dead-letters';

let server: { port: number; stop(): Promise<void> };
let sqs: SQSClient;
let endpoint: string;
let pair: DeadLetterPair;

const createQueue = async (name: string, attributes: Record<string, string> = {}) => {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = queueUrlOnEndpoint(endpoint, created.QueueUrl!);
  const read = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: read.Attributes!.QueueArn! };
};

const receiveAll = async (url: string) => {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'],
    }),
  );
  return Messages;
};

beforeAll(async () => {
  const { startFauxqs } = await import('fauxqs');
  server = (await startFauxqs({ port: 0, logger: false })) as unknown as typeof server;
  endpoint = `http://127.0.0.1:${server.port}`;
  sqs = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  // Named as the local platform names them: the template's logical ids.
  const dlq = await createQueue(`DataQueues${QUEUES.chatRuns.id}DlqA1B2C3D4`);
  await createQueue(`DataQueues${QUEUES.toolJobs.id}E5F6A7B8`);
  await createQueue(`DataQueues${QUEUES.chatRuns.id}9C8D7E6F`, {
    VisibilityTimeout: '720',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 3 }),
  });
  pair = await findDeadLetterPair(sqs, 'chatRuns', endpoint);
});

afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

describe('DLQ operations on fauxqs', () => {
  it('finds the work queue by its redrive policy and its DLQ by the policy target', () => {
    expect(pair.sourceUrl).toMatch(/ChatRunsQueue9C8D7E6F$/);
    expect(pair.dlqUrl).toMatch(/ChatRunsQueueDlqA1B2C3D4$/);
    expect(pair.dlqArn).toMatch(/ChatRunsQueueDlqA1B2C3D4$/);
  });

  it('lists a dead letter with its id, receive count, first-seen time and a preview, and leaves it there', async () => {
    const body = JSON.stringify({
      type: 'run.execute',
      tenant_id: 'ten_dlq',
      id: 'run_dlq_1',
      payload: { n: 1 },
    });
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: pair.dlqUrl, MessageBody: body }));

    const listed = await peekDeadLetters(sqs, pair.dlqUrl);
    const again = await peekDeadLetters(sqs, pair.dlqUrl);

    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ messageId: sent.MessageId, bodyPreview: body, bodyBytes: body.length });
    expect(listed[0]!.receiveCount).toBeGreaterThanOrEqual(1);
    expect(Date.parse(listed[0]!.firstSeenAt!)).not.toBeNaN();
    expect(again.map((item) => item.messageId)).toEqual([sent.MessageId]);
  });

  it('redrives it into the source queue exactly once, same body and attributes, and empties the DLQ', async () => {
    const before = await peekDeadLetters(sqs, pair.dlqUrl);
    expect(before).toHaveLength(1);

    const { moved } = await redriveLocally(sqs, pair);

    expect(moved).toEqual([before[0]!.messageId]);
    expect(await peekDeadLetters(sqs, pair.dlqUrl)).toEqual([]);
    const arrived = await receiveAll(pair.sourceUrl);
    expect(arrived.map((message) => message.Body)).toEqual([before[0]!.bodyPreview]);
    expect(await receiveAll(pair.sourceUrl)).toEqual([]);
  });

  it('keeps message attributes, and stops after --max messages', async () => {
    for (const n of [1, 2, 3]) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: pair.dlqUrl,
          MessageBody: `poison ${n}`,
          MessageAttributes: { origin: { DataType: 'String', StringValue: `test-${n}` } },
        }),
      );
    }

    const { moved } = await redriveLocally(sqs, pair, { max: 2 });

    expect(moved).toHaveLength(2);
    expect(await peekDeadLetters(sqs, pair.dlqUrl)).toHaveLength(1);
    const arrived = await receiveAll(pair.sourceUrl);
    expect(arrived).toHaveLength(2);
    for (const message of arrived) {
      expect(message.MessageAttributes?.origin?.StringValue).toBe(`test-${message.Body?.split(' ')[1]}`);
    }
  });
});
