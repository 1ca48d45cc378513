// Integration: the local SQS event source mapping delivers genuine SQS events in batches, deletes only what
// succeeded (ReportBatchItemFailures), and lets a poison record reach the DLQ through the redrive.
import { readFileSync } from 'node:fs';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { Message } from '@aws-sdk/client-sqs';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueUrlOnEndpoint } from '../../local/clients';
import { settleBatch } from '../../local/sqs-poller';
import { type FixturePlatform, startFixturePlatform } from '../helpers/fixture-platform';
import { waitOn } from '../helpers/platform-events';

const sample = JSON.parse(
  readFileSync(new URL('../helpers/fixtures/aws-events/sqs-batch.json', import.meta.url), 'utf8'),
) as {
  Records: Record<string, unknown>[];
};

interface Seen {
  pk: string;
  sk: string;
  batchSize: number;
  record: Record<string, unknown> & { messageId: string; body: string; attributes: Record<string, string> };
}

describe('local SQS poller', () => {
  let fixture: FixturePlatform;
  let table: string;

  beforeAll(async () => {
    fixture = await startFixturePlatform();
    table = fixture.model.tables[0]!.name;
  });
  afterAll(() => fixture.stop());

  const queueUrl = async (name: string): Promise<string> => {
    const { QueueUrl } = await fixture.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    return queueUrlOnEndpoint(fixture.platform.endpoints.sqs, QueueUrl!);
  };
  const send = async (queue: string, body: unknown): Promise<string> => {
    const sent = await fixture.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: await queueUrl(queue),
        MessageBody: JSON.stringify(body),
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'test' } },
      }),
    );
    return sent.MessageId!;
  };
  const seen = async (id: string): Promise<Seen[]> => {
    const result = await fixture.clients.dynamodb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `msg#${id}` } },
      }),
    );
    return (result.Items ?? []).map((item) => unmarshall(item) as Seen);
  };
  /** `check` now and after each batch the platform settles (the consumer has written its rows by then). */
  const afterBatches = <T>(check: () => Promise<T | undefined>, what: string): Promise<T> =>
    waitOn(fixture.platform.events, 'batch', check, { what });
  const messagesIn = async (queue: string): Promise<number> => {
    const { Attributes } = await fixture.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: await queueUrl(queue),
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
    );
  };

  it('delivers records with the keys of a genuine SQS event', async () => {
    const id = `shape-${Date.now()}`;
    await send(fixture.model.queues[0]!.name, { id });

    const [first] = await afterBatches(async () => {
      const rows = await seen(id);
      return rows.length > 0 ? rows : undefined;
    }, 'the record');

    const record = first!.record;
    // Lambda adds md5OfMessageAttributes when a message has attributes (optional in @types/aws-lambda).
    const { md5OfMessageAttributes, ...keys } = record;
    expect(Object.keys(keys).sort()).toEqual(Object.keys(sample.Records[0]!).sort());
    expect(md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(record.eventSource).toBe('aws:sqs');
    expect(record.eventSourceARN).toMatch(/^arn:aws:sqs:us-east-1:\d{12}:.+-work$/);
    expect(Object.keys(record.attributes)).toEqual(
      expect.arrayContaining([
        'ApproximateReceiveCount',
        'SentTimestamp',
        'SenderId',
        'ApproximateFirstReceiveTimestamp',
      ]),
    );
    expect(record.messageAttributes).toEqual({
      kind: { stringValue: 'test', stringListValues: [], binaryListValues: [], dataType: 'String' },
    });
  });

  it('deletes the records that succeeded and leaves exactly the failed one on the queue', async () => {
    const queue = fixture.model.queues[0]!.name;
    const run = `partial-${Date.now()}`;
    const ids = [`${run}-a`, `${run}-b`, `${run}-c`];
    await Promise.all([
      send(queue, { id: ids[0] }),
      send(queue, { id: ids[1], fail: true }),
      send(queue, { id: ids[2] }),
    ]);

    await afterBatches(
      async () => ((await Promise.all(ids.map(seen))).every((rows) => rows.length > 0) ? true : undefined),
      'all three records',
    );
    // The failed record comes back after the visibility timeout (5 s); the others never do.
    await afterBatches(
      async () => ((await seen(ids[1]!)).length >= 2 ? true : undefined),
      'the failed record to be delivered again',
    );

    // Only the failed record is still on the queue (it reaches the DLQ only after 5 receives).
    expect(await messagesIn(queue)).toBe(1);
    expect((await seen(ids[0]!)).length).toBe(1);
    expect((await seen(ids[2]!)).length).toBe(1);
    const retries = await seen(ids[1]!);
    expect(retries.map((row) => row.record.attributes.ApproximateReceiveCount)).toContain('2');
  });

  it('moves a record that keeps failing to the DLQ after maxReceiveCount', async () => {
    const poison = fixture.model.queues.find((queue) => queue.logicalId === 'PoisonQueue')!;
    const dlq = fixture.model.queues.find((queue) => queue.logicalId === 'PoisonDlq')!;
    const id = `poison-${Date.now()}`;
    const messageId = await send(poison.name, { id, poison: true });

    // fauxqs moves the record when the poller receives it once too often, and the platform sees no such
    // event; a long poll on the DLQ is answered the moment the record lands there.
    const dlqUrl = await queueUrl(dlq.name);
    const until = Date.now() + 30_000;
    let moved: Message | undefined;
    while (!moved && Date.now() < until) {
      const received = await fixture.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10 }),
      );
      moved = received.Messages?.find((message) => message.MessageId === messageId);
    }

    expect(JSON.parse(moved?.Body ?? 'null')).toEqual({ id, poison: true });
    // Each delivery's row is written before its batch settles.
    const deliveries = await afterBatches(async () => {
      const rows = await seen(id);
      return rows.length >= poison.redrive!.maxReceiveCount ? rows : undefined;
    }, 'every delivery to be recorded');
    expect(deliveries.length).toBe(poison.redrive!.maxReceiveCount);
    expect(await messagesIn(poison.name)).toBe(0);
  });
});

describe('settleBatch (ReportBatchItemFailures)', () => {
  const batch: Message[] = [
    { MessageId: 'm1', ReceiptHandle: 'r1' },
    { MessageId: 'm2', ReceiptHandle: 'r2' },
    { MessageId: 'm3', ReceiptHandle: 'r3' },
  ];
  const ids = (messages: Message[]) => messages.map((message) => message.MessageId);

  it('deletes every record not listed as failed', () => {
    expect(
      ids(settleBatch(batch, { ok: true, payload: { batchItemFailures: [{ itemIdentifier: 'm2' }] } }, true)),
    ).toEqual(['m1', 'm3']);
  });

  it('keeps the whole batch on an error, an empty or unknown identifier', () => {
    expect(settleBatch(batch, { ok: false }, true)).toEqual([]);
    expect(
      settleBatch(batch, { ok: true, payload: { batchItemFailures: [{ itemIdentifier: '' }] } }, true),
    ).toEqual([]);
    expect(
      settleBatch(batch, { ok: true, payload: { batchItemFailures: [{ itemIdentifier: 'zz' }] } }, true),
    ).toEqual([]);
  });

  it('deletes everything on success without a report, or when reports are not enabled', () => {
    expect(ids(settleBatch(batch, { ok: true, payload: null }, true))).toEqual(['m1', 'm2', 'm3']);
    expect(
      ids(
        settleBatch(batch, { ok: true, payload: { batchItemFailures: [{ itemIdentifier: 'm1' }] } }, false),
      ),
    ).toEqual(['m1', 'm2', 'm3']);
  });
});
