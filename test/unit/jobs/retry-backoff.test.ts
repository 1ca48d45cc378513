// Unit: retry backoff of failed jobs (full jitter keyed on the receive count), the final-failure hook,
// and the SQS adapter's ChangeMessageVisibility call (aws-sdk-client-mock).

import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SqsMessageVisibility } from '../../../functions/adapters/sqs/message-visibility';
import { createJobRegistry, defineJob } from '../../../functions/core/jobs/registry';
import {
  backoffCeiling,
  backoffSeconds,
  isFinalAttempt,
  type JobRetry,
  type RetryPolicy,
} from '../../../functions/core/jobs/retry-policy';
import type { JobEnvelope } from '../../../functions/core/jobs/schemas';
import type { MessageVisibility } from '../../../functions/core/ports/message-visibility';
import { processJobBatch, toQueueMessage } from '../../../functions/middleware/sqs-batch';
import { sqsRecord } from '../../helpers/sqs-records';
import { capturingLogger } from '../ws/fakes';

const policy: RetryPolicy = {
  baseSeconds: 2,
  capSeconds: 60,
  visibilityTimeoutSeconds: 720,
  maxReceiveCount: 4,
};

class RecordingVisibility implements MessageVisibility {
  readonly delays: { receiptHandle: string; seconds: number }[] = [];
  failWith: Error | undefined;
  async delay(receiptHandle: string, seconds: number) {
    if (this.failWith) throw this.failWith;
    this.delays.push({ receiptHandle, seconds });
  }
}

const envelope = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'test.flaky', tenant_id: 'ten_a', id: 'job_1', payload: { fail: true }, ...fields });
const message = (receiveCount: number, body = envelope()): SQSRecord =>
  sqsRecord({ messageId: `m-${receiveCount}`, body, receiveCount, receiptHandle: `rh-${receiveCount}` });

const setup = (random = () => 0.999999) => {
  const finalFailures: { envelope: JobEnvelope; error: unknown }[] = [];
  const contexts: (boolean | undefined)[] = [];
  const flaky = defineJob(
    'test.flaky',
    z.object({ fail: z.boolean() }).strict(),
    async (job, context) => {
      contexts.push(context.finalAttempt);
      if (job.payload.fail) throw new Error('upstream 503');
    },
    {
      onFinalFailure: async (failed, error) => {
        finalFailures.push({ envelope: failed, error });
      },
    },
  );
  const visibility = new RecordingVisibility();
  const retry: JobRetry = { visibility, policy, random };
  const { logger, lines } = capturingLogger();
  const run = (messages: SQSRecord[]) =>
    processJobBatch(messages, { registry: createJobRegistry([flaky]), logger, retry });
  return { run, visibility, finalFailures, contexts, lines };
};

describe('backoff with full jitter', () => {
  it('doubles its ceiling per receive from the base, up to the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7].map((count) => backoffCeiling(policy, count));
    expect(ceilings).toEqual([2, 4, 8, 16, 32, 60, 60]);
  });

  it('never exceeds the queue visibility timeout nor 12 hours, whatever the cap', () => {
    expect(backoffCeiling({ ...policy, capSeconds: 10_000, visibilityTimeoutSeconds: 90 }, 20)).toBe(90);
    expect(
      backoffCeiling({ ...policy, capSeconds: 1e9, visibilityTimeoutSeconds: 1e9, baseSeconds: 1e6 }, 40),
    ).toBe(43_200);
  });

  it('draws uniformly from 0 to the ceiling, inclusive', () => {
    expect(backoffSeconds(policy, 3, () => 0)).toBe(0);
    expect(backoffSeconds(policy, 3, () => 0.999999)).toBe(8);
    expect(backoffSeconds(policy, 3, () => 0.5)).toBe(4);
  });

  it('calls the delivery with receive count maxReceiveCount the final one', () => {
    expect([3, 4, 5].map((count) => isFinalAttempt(policy, count))).toEqual([false, true, true]);
  });
});

describe('processJobBatch with retries', () => {
  it('hides a failed message for its backoff, keyed on its receive count, and reports it failed', async () => {
    const { run, visibility, finalFailures, contexts } = setup(() => 0.999999);

    const result = await run([message(1), message(3)]);

    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(['m-1', 'm-3']);
    expect(visibility.delays).toEqual([
      { receiptHandle: 'rh-1', seconds: backoffCeiling(policy, 1) },
      { receiptHandle: 'rh-3', seconds: backoffCeiling(policy, 3) },
    ]);
    expect(finalFailures).toEqual([]);
    expect(contexts).toEqual([false, false]);
  });

  it('on the final attempt runs onFinalFailure with the envelope and error, then dead-letters at once', async () => {
    const { run, visibility, finalFailures, contexts } = setup();

    const result = await run([message(4)]);

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-4' }]);
    expect(contexts).toEqual([true]);
    expect(finalFailures).toHaveLength(1);
    expect(finalFailures[0]?.envelope).toMatchObject({ type: 'test.flaky', id: 'job_1', tenant_id: 'ten_a' });
    expect(String(finalFailures[0]?.error)).toContain('upstream 503');
    expect(visibility.delays).toEqual([{ receiptHandle: 'rh-4', seconds: 0 }]);
  });

  it('leaves a succeeding message alone', async () => {
    const { run, visibility, finalFailures } = setup();

    const result = await run([message(4, envelope({ payload: { fail: false } }))]);

    expect(result.batchItemFailures).toEqual([]);
    expect(visibility.delays).toEqual([]);
    expect(finalFailures).toEqual([]);
  });

  it('retries a poison message at once (no wait cures it), and gives its hook the envelope on the last try', async () => {
    const { run, visibility, finalFailures } = setup();
    const poison = envelope({ payload: { fail: 'not a boolean' } });

    await run([message(2, poison)]);
    await run([message(4, poison)]);

    expect(visibility.delays).toEqual([
      { receiptHandle: 'rh-2', seconds: 0 },
      { receiptHandle: 'rh-4', seconds: 0 },
    ]);
    expect(finalFailures.map((failure) => failure.envelope.id)).toEqual(['job_1']);
  });

  it('never fails the batch when changing the visibility or the hook fails; both are logged', async () => {
    const { run, visibility, lines } = setup();
    visibility.failWith = Object.assign(new Error('ReceiptHandleIsInvalid'), {
      name: 'ReceiptHandleIsInvalid',
    });
    const hookFails = defineJob(
      'test.flaky',
      z.object({ fail: z.boolean() }),
      async () => {
        throw new Error('boom');
      },
      {
        onFinalFailure: async () => {
          throw new Error('runs table down');
        },
      },
    );

    const first = await run([message(1)]);
    const second = await processJobBatch([message(4)], {
      registry: createJobRegistry([hookFails]),
      logger: capturingLogger().logger,
      retry: { visibility: new RecordingVisibility(), policy },
    });

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: 'm-4' }]);
    expect(lines.some((line) => String(line.message).includes('could not change the visibility'))).toBe(true);
  });

  it('without retry settings behaves as before: no visibility change, no hook', async () => {
    const finalFailures: unknown[] = [];
    const job = defineJob(
      'test.flaky',
      z.object({}).loose(),
      async () => {
        throw new Error('no');
      },
      { onFinalFailure: async () => void finalFailures.push(1) },
    );

    const result = await processJobBatch([message(99)], {
      registry: createJobRegistry([job]),
      logger: capturingLogger().logger,
    });

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-99' }]);
    expect(finalFailures).toEqual([]);
  });
});

describe('SqsMessageVisibility', () => {
  const sqsMock = mockClient(SQSClient);
  afterEach(() => sqsMock.reset());

  it('sends ChangeMessageVisibility for the queue and handle, in whole seconds within SQS limits', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    const visibility = new SqsMessageVisibility(new SQSClient({ region: 'eu-west-1' }), 'https://q/url');

    await visibility.delay('handle-1', 12.7);
    await visibility.delay('handle-2', 99_999);

    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((call) => call.args[0].input)).toEqual([
      { QueueUrl: 'https://q/url', ReceiptHandle: 'handle-1', VisibilityTimeout: 12 },
      { QueueUrl: 'https://q/url', ReceiptHandle: 'handle-2', VisibilityTimeout: 43_200 },
    ]);
  });

  it('lets SQS errors through to the caller (the processor logs them)', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(new Error('MessageNotInflight'));
    const visibility = new SqsMessageVisibility(new SQSClient({ region: 'eu-west-1' }), 'https://q/url');

    await expect(visibility.delay('handle', 5)).rejects.toThrow('MessageNotInflight');
  });
});

describe('toQueueMessage', () => {
  it('keeps the receipt handle, needed to change the visibility', () => {
    const converted = toQueueMessage({
      messageId: 'm',
      receiptHandle: 'AQEB-handle',
      body: '{}',
      attributes: { ApproximateReceiveCount: '3' },
    } as never);
    expect(converted).toEqual({ messageId: 'm', body: '{}', receiveCount: 3, receiptHandle: 'AQEB-handle' });
  });
});
