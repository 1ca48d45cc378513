// Unit: the batch processor's partial-failure semantics (ReportBatchItemFailures).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createJobRegistry, defineJob, type Job } from '../../../functions/core/jobs/registry';
import { processJobBatch } from '../../../functions/middleware/sqs-batch';
import { sqsRecord } from '../../helpers/sqs-records';
import { capturingLogger } from '../ws/fakes';

const envelope = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'test.echo', tenant_id: 'ten_a', id: 'job_1', payload: { text: 'hi' }, ...fields });
const message = (messageId: string, body: string) => sqsRecord({ messageId, body, receiveCount: 1 });

/** A registry with one job type that records what it ran and fails on request. */
const echoRegistry = () => {
  const ran: Job<{ text: string }>[] = [];
  const echo = defineJob('test.echo', z.object({ text: z.string() }).strict(), async (job) => {
    if (job.payload.text === 'fail') throw new Error('downstream said no');
    ran.push(job);
  });
  return { registry: createJobRegistry([echo]), ran };
};

describe('processJobBatch', () => {
  it('reports nothing when every job succeeds, and hands each job its typed payload', async () => {
    const { registry, ran } = echoRegistry();
    const { logger } = capturingLogger();

    const result = await processJobBatch(
      [message('m1', envelope({ id: 'job_1' })), message('m2', envelope({ id: 'job_2', attempt: 2 }))],
      { registry, logger },
    );

    expect(result).toEqual({ batchItemFailures: [] });
    expect(ran.map((job) => [job.id, job.payload.text, job.attempt])).toEqual([
      ['job_1', 'hi', undefined],
      ['job_2', 'hi', 2],
    ]);
  });

  it('fails only the records that failed, and still runs the others', async () => {
    const { registry, ran } = echoRegistry();
    const { logger } = capturingLogger();

    const result = await processJobBatch(
      [
        message('ok-1', envelope({ id: 'job_1' })),
        message('throws', envelope({ id: 'job_2', payload: { text: 'fail' } })),
        message('ok-2', envelope({ id: 'job_3' })),
      ],
      { registry, logger },
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'throws' }]);
    expect(ran.map((job) => job.id)).toEqual(['job_1', 'job_3']);
  });

  it.each([
    ['a body that is not JSON', 'Test message.'],
    ['JSON that is not an envelope', '{"message": "foo1"}'],
    ['an envelope without an id', envelope({ id: undefined })],
    ['an envelope whose payload is not an object', envelope({ payload: 'web_fetch' })],
    ['a payload its job type refuses', envelope({ payload: { text: 'hi', extra: true } })],
  ])('reports %s as a poison message, logged with its messageId, without throwing', async (_case, body) => {
    const { registry, ran } = echoRegistry();
    const { logger, lines } = capturingLogger();

    const result = await processJobBatch([message('poison-1', body), message('ok', envelope())], {
      registry,
      logger,
    });

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'poison-1' }]);
    expect(ran).toHaveLength(1);
    const logged = lines.find((line) => line.poison === true);
    expect(logged).toMatchObject({ level: 'error', message_id: 'poison-1' });
  });

  it('keeps the body of a poison message out of the logs: it may carry tenant content', async () => {
    const { registry } = echoRegistry();
    const { logger, lines } = capturingLogger();

    await processJobBatch([message('poison-1', 'card 4111-1111-1111-1111 for ten_a')], { registry, logger });

    expect(JSON.stringify(lines)).not.toContain('4111');
  });

  it('fails a record whose type has no handler on this queue, with a log line that says so', async () => {
    const { logger, lines } = capturingLogger();

    const result = await processJobBatch([message('m1', envelope({ type: 'run.execute' }))], {
      registry: createJobRegistry([]),
      logger,
    });

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    const logged = lines.find((line) => line.job_type === 'run.execute' && line.level === 'error');
    expect(logged?.message).toMatch(/unknown job type/);
    expect(JSON.stringify(logged?.error)).toContain("no handler for job type 'run.execute'");
  });

  it('refuses to register one job type twice', () => {
    const { registry } = echoRegistry();
    const echo = registry.get('test.echo');
    expect(echo).toBeDefined();

    expect(() => createJobRegistry([echo!, echo!])).toThrow(/registered twice/);
  });
});
