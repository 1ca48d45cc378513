// Unit: the chat-runs and tool-jobs workers, invoked with the SQS sample events under events/.
import '../../helpers/test-env';
import { readFileSync } from 'node:fs';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RunExecutePayload } from '../../../functions/core/chat/schemas';
import { createJobRegistry, defineJob } from '../../../functions/core/jobs/registry';
import { CHAT_RUN_JOBS, createChatRunsHandler } from '../../../functions/handlers/chat-worker';
import { createToolJobsHandler, TOOL_JOBS } from '../../../functions/handlers/tool-worker';
import { capturingLogger, lambdaContext, loadEvent } from '../ws/fakes';

const failedIds = (result: { batchItemFailures: { itemIdentifier: string }[] } | undefined) =>
  (result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier).sort();

describe('a job type the consumer does not serve', () => {
  it('fails that record only, logged as unknown, while the served record in the same batch runs', async () => {
    const event = loadEvent<SQSEvent>('tool-worker/batch-with-poison.json');
    const served = event.Records[0]!;
    const envelope = JSON.parse(served.body) as Record<string, unknown>;
    const unserved = {
      ...served,
      messageId: 'b7d0e1f2-3a4b-4c5d-8e6f-7a8b9c0d1e2f',
      body: JSON.stringify({ ...envelope, id: 'tjob_9QwE8rTy7UiO', type: 'tool.retire' }),
    };
    const invoked: string[] = [];
    const registry = createJobRegistry([
      defineJob('tool.invoke', z.object({ tool: z.string() }).loose(), async (job) => {
        invoked.push(job.id);
      }),
    ]);
    const { logger, lines } = capturingLogger();
    const handler = createToolJobsHandler({ registry, logger });

    const result = await handler({ Records: [served, unserved] }, lambdaContext());

    expect(failedIds(result)).toEqual([unserved.messageId]);
    expect(invoked).toEqual([envelope.id]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', message_id: unserved.messageId, job_type: 'tool.retire' }),
    );
  });
});

describe('chat-worker', () => {
  it('runs the valid run.execute record and reports only the poison one, without throwing', async () => {
    const event = loadEvent<SQSEvent>('chat-worker/batch-with-poison.json');
    const { logger, lines } = capturingLogger();
    const ran: string[] = [];
    const registry = createJobRegistry([
      defineJob('run.execute', RunExecutePayload, async (job) => {
        ran.push(`${job.id}/${job.payload.session_id}`);
      }),
    ]);
    const handler = createChatRunsHandler({ registry, logger });

    const result = await handler(event, lambdaContext());

    const [valid, poison] = event.Records;
    expect(failedIds(result)).toEqual([poison?.messageId]);
    expect(ran).toEqual(['run_01m7yqb6981yb4tw7fgk7n8078/ses_01m7yqb1d03tbw4khk5yv9h3k2']);
    expect(lines).toContainEqual(
      expect.objectContaining({ message_id: valid?.messageId, job_type: 'run.execute', queue: 'chat-runs' }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ message_id: poison?.messageId, poison: true }));
  });
});

describe('tool-worker', () => {
  it('runs the valid record once its type is registered, and reports only the two poison records', async () => {
    const event = loadEvent<SQSEvent>('tool-worker/batch-with-poison.json');
    const invoked: string[] = [];
    const registry = createJobRegistry([
      defineJob(
        'tool.invoke',
        z.object({ tool: z.string(), arguments: z.record(z.string(), z.unknown()) }),
        async (job) => {
          invoked.push(job.payload.tool);
        },
      ),
    ]);
    const handler = createToolJobsHandler({ registry, logger: capturingLogger().logger });

    const result = await handler(event, lambdaContext());

    const [valid, ...poison] = event.Records;
    expect(invoked).toEqual(['web_fetch']);
    expect(failedIds(result)).toEqual(poison.map((record) => record.messageId).sort());
    expect(failedIds(result)).not.toContain(valid?.messageId);
  });

  it('accepts the genuine AWS SQS sample shape, reporting its two non-envelope bodies as failed', async () => {
    const event = JSON.parse(
      readFileSync(new URL('../../fixtures/aws-events/sqs-batch.json', import.meta.url), 'utf8'),
    ) as SQSEvent;
    const handler = createToolJobsHandler({ registry: TOOL_JOBS, logger: capturingLogger().logger });

    const result = await handler(event, lambdaContext());

    expect(failedIds(result)).toEqual(event.Records.map((record) => record.messageId).sort());
  });
});

describe('a bug outside any one record', () => {
  it('is logged and rethrown, so the whole batch returns to the queue and the error metric shows it', async () => {
    const { logger, lines } = capturingLogger();
    const handler = createChatRunsHandler({ registry: CHAT_RUN_JOBS, logger });

    await expect(handler({} as SQSEvent, lambdaContext())).rejects.toBeInstanceOf(TypeError);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', queue: 'chat-runs' }));
  });
});
