// Port: hands a job to a work queue (chat-runs, tool-jobs) in the envelope of core/jobs/schemas.ts.
import type { JobEnvelope } from '../jobs/schemas';

/**
 * At-least-once delivery: consumers must be idempotent on the envelope's `id`. Failures are domain
 * errors (a 503 `UpstreamError` when the queue cannot be reached), never an SDK's types.
 *
 * @example
 * const jobs: JobQueue = new SqsJobQueue(sqsClient, queueUrl);
 * await jobs.enqueue({ type: 'run.execute', tenant_id: tenantId, id: runId, payload: { session_id } });
 */
export interface JobQueue {
  enqueue(envelope: JobEnvelope, options?: { readonly delaySeconds?: number }): Promise<void>;
}
