// Use case: run one queued job: parse its envelope, dispatch it by type, and on failure back the message off
// (or, on its last delivery, run the job type's final-failure hook and let SQS dead-letter it now). The
// batch around it (partial failures, ReportBatchItemFailures) is Powertools Batch's, in
// functions/middleware/sqs-batch.ts.
import type { Logger } from '../../observability/logger';
import type { PlatformMetrics } from '../ports/platform-metrics';
import { PoisonMessageError, UnknownJobTypeError } from './errors';
import type { JobContext, JobDefinition, JobRegistry } from './registry';
import { backoffSeconds, isFinalAttempt, type JobRetry } from './retry-policy';
import { type JobEnvelope, JobEnvelopeSchema, type QueueMessage } from './schemas';

export interface ProcessJobBatchDeps {
  registry: JobRegistry;
  logger: Logger;
  signal?: AbortSignal;
  /** Backs failed messages off and runs final-failure hooks; without it, SQS's visibility timeout decides. */
  retry?: JobRetry;
  /** Counts dead-letter moves (by `queue`); default nothing counted. */
  metrics?: PlatformMetrics;
  /** The queue's name (`chat-runs`), for the dead-letter count. */
  queue?: string;
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

/** What happened to a failed message next; for the log line. */
type Disposition = { readonly retryInSeconds: number } | { readonly deadLetter: true } | undefined;

/**
 * Where a failed message goes next. Not the last delivery: hidden for a backoff with full jitter (0 for
 * a poison message, which no wait can cure: it reaches the DLQ sooner). The last one: the job type's
 * `onFinalFailure` runs, then the message is made visible at once so SQS dead-letters it now rather than
 * after the visibility timeout. Neither step may fail the batch: their errors are only logged.
 */
const dispose = async (
  message: QueueMessage,
  failure: { error: unknown; envelope?: JobEnvelope; definition?: JobDefinition; context: JobContext },
  deps: ProcessJobBatchDeps,
  log: Logger,
): Promise<Disposition> => {
  const retry = deps.retry;
  if (!retry) return undefined;
  const final = isFinalAttempt(retry.policy, message.receiveCount);
  if (final && failure.envelope && failure.definition?.onFinalFailure) {
    try {
      await failure.definition.onFinalFailure(failure.envelope, failure.error, failure.context);
    } catch (hookError) {
      log.error('onFinalFailure hook failed; the message is dead-lettered anyway', { error: hookError });
    }
  }
  const seconds =
    final || failure.error instanceof PoisonMessageError
      ? 0
      : backoffSeconds(retry.policy, message.receiveCount, retry.random);
  if (message.receiptHandle) {
    try {
      await retry.visibility.delay(message.receiptHandle, seconds);
    } catch (visibilityError) {
      log.warn('could not change the visibility; the queue timeout decides the next delivery', {
        error: visibilityError,
      });
    }
  }
  if (final) {
    deps.metrics?.deadLettered({
      queue: deps.queue ?? 'unknown',
      ...(failure.envelope && { tenantId: failure.envelope.tenant_id }),
    });
  }
  return final ? { deadLetter: true } : { retryInSeconds: seconds };
};

/**
 * Runs one message's job. A failure is disposed of (backoff, or final-failure hook and dead-letter), logged
 * without the body, and rethrown so the batch reports the message failed; it never touches other messages.
 *
 * @example
 * await processJobMessage(toQueueMessage(record), { registry: TOOL_JOBS, logger, retry });
 */
export const processJobMessage = async (message: QueueMessage, deps: ProcessJobBatchDeps): Promise<void> => {
  let log = deps.logger.child({ message_id: message.messageId, receive_count: message.receiveCount });
  let envelope: JobEnvelope | undefined;
  let definition: JobDefinition | undefined;
  const finalAttempt = deps.retry ? isFinalAttempt(deps.retry.policy, message.receiveCount) : undefined;
  const context = (): JobContext => ({
    logger: log,
    messageId: message.messageId,
    receiveCount: message.receiveCount,
    signal: deps.signal,
    ...(finalAttempt !== undefined && { finalAttempt }),
  });
  try {
    envelope = parseEnvelope(message.body);
    const sessionId = envelope.payload.session_id;
    log = log.child({
      job_type: envelope.type,
      job_id: envelope.id,
      tenant_id: envelope.tenant_id,
      ...(typeof sessionId === 'string' && { session_id: sessionId }),
    });
    definition = deps.registry.get(envelope.type);
    if (!definition) throw new UnknownJobTypeError(envelope.type, [...deps.registry.keys()]);
    await definition.run(envelope, context());
    log.info('job done');
  } catch (error) {
    const next = await dispose(
      message,
      { error, context: context(), ...(envelope && { envelope }), ...(definition && { definition }) },
      deps,
      log,
    );
    const fields = { ...next, ...(finalAttempt !== undefined && { final_attempt: finalAttempt }) };
    if (error instanceof PoisonMessageError) {
      // The body itself is not logged: it may carry tenant content. Its size helps find it in the DLQ.
      log.error('poison message: reported failed so the queue dead-letters it', {
        poison: true,
        body_bytes: Buffer.byteLength(message.body),
        ...fields,
        error,
      });
    } else if (error instanceof UnknownJobTypeError) {
      log.error('unknown job type: reported failed', { ...fields, error });
    } else {
      log.error('job failed: reported for retry', { ...fields, error });
    }
    throw error;
  }
};
