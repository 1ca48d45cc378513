// Integration: SQS retry semantics through the local platform's poller and the real chat-worker: a job
// that keeps failing is backed off (ChangeMessageVisibility) on each delivery, and after maxReceiveCount
// deliveries it reaches the DLQ, exactly once.
import {
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffCeiling } from '../../functions/core/jobs/retry-policy';
import { QUEUES } from '../../functions/platform/queues';
import { createEmulatorClients, type EmulatorClients, queueUrlOnEndpoint } from '../../local/clients';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { waitOn } from '../helpers/platform-events';

let platform: TestPlatform;
let clients: EmulatorClients;

const queueUrl = async (sqs: SQSClient, name: string) =>
  queueUrlOnEndpoint(
    platform.platform.endpoints.sqs,
    (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!,
  );

beforeAll(async () => {
  platform = await startTestPlatform();
  clients = createEmulatorClients(platform.platform.endpoints);
}, 180_000);

afterAll(async () => {
  clients?.destroy();
  await platform?.stop();
});

/** The chat-worker's JSON log lines about one message. */
const linesAbout = (messageId: string): Record<string, unknown>[] =>
  platform.logs
    .filter((line) => line.startsWith('[chat-worker] {'))
    .map((line) => JSON.parse(line.slice('[chat-worker] '.length)) as Record<string, unknown>)
    .filter((line) => line.message_id === messageId);

describe('chat-runs retries on the local platform', () => {
  it('backs a failing job off on every delivery and dead-letters it after maxReceiveCount, once', async () => {
    const source = platform.platform.model.queues.find(
      (queue) => queue.logicalId.includes(QUEUES.chatRuns.id) && queue.redrive,
    )!;
    const maxReceiveCount = source.redrive!.maxReceiveCount;
    const sourceUrl = await queueUrl(clients.sqs, source.name);
    const dlq = platform.platform.model.queues.find(
      (queue) =>
        queue.logicalId === source.redrive!.deadLetterQueue || queue.name === source.redrive!.deadLetterQueue,
    )!;
    const dlqUrl = await queueUrl(clients.sqs, dlq.name);
    const body = JSON.stringify({
      type: 'test.unserved',
      tenant_id: 'ten_retry',
      id: 'job_retry_1',
      payload: {},
    });

    const sent = await clients.sqs.send(new SendMessageCommand({ QueueUrl: sourceUrl, MessageBody: body }));

    const until = Date.now() + 100_000;
    let dead: { MessageId?: string; Body?: string }[] = [];
    // fauxqs moves the job on a receive the platform does not see; a long poll on the DLQ is answered the
    // moment it lands there.
    while (dead.length === 0 && Date.now() < until) {
      const received = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10 }),
      );
      dead = (received.Messages ?? []).filter((message) => message.MessageId === sent.MessageId);
    }
    expect(
      dead,
      platform.logs
        .filter((line) => line.startsWith('[chat-worker]'))
        .slice(-8)
        .join('\n'),
    ).toHaveLength(1);
    expect(dead[0]?.Body).toBe(body);

    // The last failure's log line is written after its visibility change, so it may trail the DLQ move.
    const failuresLogged = () => linesAbout(sent.MessageId!).filter((line) => line.level === 'error');
    const logged = await waitOn(
      platform.platform.events,
      'log',
      () => (failuresLogged().length >= maxReceiveCount ? failuresLogged() : undefined),
      { timeoutMs: 10_000, what: `${maxReceiveCount} failure lines` },
    );
    // In delivery order: a retry due at once may start (and log) before the previous delivery's line is
    // written, as invocations run side by side.
    const failures = logged.sort((a, b) => (a.receive_count as number) - (b.receive_count as number));
    expect(failures.map((line) => line.receive_count)).toEqual(
      Array.from({ length: maxReceiveCount }, (_, index) => index + 1),
    );
    const policy = {
      baseSeconds: QUEUES.chatRuns.retryBaseSeconds,
      capSeconds: QUEUES.chatRuns.retryCapSeconds,
      visibilityTimeoutSeconds: source.visibilityTimeoutSeconds,
      maxReceiveCount,
    };
    for (const line of failures.slice(0, -1)) {
      expect(line.final_attempt).toBe(false);
      expect(line.retryInSeconds).toBeGreaterThanOrEqual(0);
      expect(line.retryInSeconds).toBeLessThanOrEqual(backoffCeiling(policy, line.receive_count as number));
    }
    expect(failures.at(-1)).toMatchObject({ final_attempt: true, deadLetter: true });
    expect(
      linesAbout(sent.MessageId!).some((line) => String(line.message).includes('could not change')),
    ).toBe(false);

    const left = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: sourceUrl, WaitTimeSeconds: 1 }),
    );
    expect((left.Messages ?? []).filter((message) => message.MessageId === sent.MessageId)).toEqual([]);
  }, 150_000);
});
