// Core: the envelope every queued job travels in, on chat-runs and tool-jobs alike.
import { z } from 'zod';

/**
 * `{ type, tenant_id, id, attempt?, payload }`. Unknown envelope fields are dropped rather than refused:
 * during a rolling deploy a newer producer may add one before every consumer knows it.
 */
export const JobEnvelopeSchema = z.object({
  /** Dotted job type, e.g. `run.execute`; selects the handler in the queue's registry. */
  type: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'a dotted lower-case job type'),
  tenant_id: z.string().min(1).max(128),
  /** The job's own id (run id, tool job id); what handlers use for idempotency. */
  id: z.string().min(1).max(128),
  /** 1-based attempt number the producer assigned, when it re-enqueues a job itself. */
  attempt: z.number().int().positive().optional(),
  /** Type-specific; validated by the job type's own schema. */
  payload: z.record(z.string(), z.unknown()),
});
export type JobEnvelope = z.infer<typeof JobEnvelopeSchema>;

/** One message as the queue delivered it, with nothing SQS-specific beyond its id, receive count and handle. */
export interface QueueMessage {
  messageId: string;
  body: string;
  /** How many times the queue has delivered it (SQS `ApproximateReceiveCount`). */
  receiveCount: number;
  /** This delivery's handle, needed to change its visibility (retry backoff); absent in some tests. */
  receiptHandle?: string;
}
