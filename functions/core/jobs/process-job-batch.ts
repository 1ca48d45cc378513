// Use case: run a batch of queued jobs independently and report only the failed ones back to the queue.
import type { Logger } from '../../observability/logger';
import { PoisonMessageError, UnknownJobTypeError } from './errors';
import type { JobRegistry } from './registry';
import { type JobEnvelope, JobEnvelopeSchema, type QueueMessage } from './schemas';

export interface ProcessJobBatchDeps {
  registry: JobRegistry;
  logger: Logger;
  signal?: AbortSignal;
}

/** Lambda's ReportBatchItemFailures response: the queue deletes every other message of the batch. */
export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

const parseEnvelope = (body: string): JobEnvelope => {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    // The parser's message quotes the body, which may carry tenant content: keep it out of the logs.
    throw new PoisonMessageError('body is not JSON');
  }
  const parsed = JobEnvelopeSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new PoisonMessageError(`body is not a job envelope: ${issues.join('; ')}`);
  }
  return parsed.data;
};

const processOne = async (message: QueueMessage, deps: ProcessJobBatchDeps): Promise<boolean> => {
  let log = deps.logger.child({ message_id: message.messageId, receive_count: message.receiveCount });
  try {
    const envelope = parseEnvelope(message.body);
    log = log.child({ job_type: envelope.type, job_id: envelope.id, tenant_id: envelope.tenant_id });
    const definition = deps.registry.get(envelope.type);
    if (!definition) throw new UnknownJobTypeError(envelope.type, [...deps.registry.keys()]);
    await definition.run(envelope, {
      logger: log,
      messageId: message.messageId,
      receiveCount: message.receiveCount,
      signal: deps.signal,
    });
    log.info('job done');
    return true;
  } catch (error) {
    if (error instanceof PoisonMessageError) {
      // The body itself is not logged: it may carry tenant content. Its size helps find it in the DLQ.
      log.error('poison message: reported failed so the queue dead-letters it', {
        poison: true,
        body_bytes: Buffer.byteLength(message.body),
        error,
      });
    } else if (error instanceof UnknownJobTypeError) {
      log.error('unknown job type: reported failed', { error });
    } else {
      log.error('job failed: reported for retry', { error });
    }
    return false;
  }
};

/**
 * Runs each message's job on its own: one failure (a poison body, an unknown type, a thrown handler)
 * never fails the others, and never throws the whole batch back to the queue.
 *
 * @example
 * const result = await processJobBatch(messages, { registry: TOOL_JOBS, logger });
 * // { batchItemFailures: [{ itemIdentifier: '<messageId of each failed message>' }] }
 */
export const processJobBatch = async (
  messages: readonly QueueMessage[],
  deps: ProcessJobBatchDeps,
): Promise<BatchResult> => {
  const succeeded = await Promise.all(messages.map((message) => processOne(message, deps)));
  const batchItemFailures = messages
    .filter((_, index) => !succeeded[index])
    .map((message) => ({ itemIdentifier: message.messageId }));
  deps.logger.info('batch processed', {
    received: messages.length,
    failed: batchItemFailures.length,
  });
  return { batchItemFailures };
};
