// Core: job types and the per-queue registry that maps an envelope's `type` to its handler.
import type { z } from 'zod';
import type { Logger } from '../../observability/logger';
import { PoisonMessageError } from './errors';
import type { JobEnvelope } from './schemas';

export interface JobContext {
  logger: Logger;
  messageId: string;
  receiveCount: number;
  /** Aborted shortly before the function times out. */
  signal?: AbortSignal;
  /**
   * True when this is the queue's last delivery: if it fails, SQS moves the message to the DLQ (and the
   * job type's `onFinalFailure` runs first). Undefined when the processor was not told maxReceiveCount.
   */
  finalAttempt?: boolean;
}

/**
 * Runs when a job failed on its final attempt, just before SQS dead-letters it: the place to mark the
 * job's domain object failed with a reason its owner can read. `envelope` is the envelope as parsed (its
 * payload may be the one the type refused). It should be idempotent and quick; what it throws is logged,
 * and the message still goes to the DLQ.
 */
export type FinalFailureHook = (envelope: JobEnvelope, error: unknown, context: JobContext) => Promise<void>;

export interface Job<Payload> extends Omit<JobEnvelope, 'payload'> {
  payload: Payload;
}

/** A job type with its payload check, type-erased so one registry can hold many. */
export interface JobDefinition {
  readonly type: string;
  /** Throws PoisonMessageError when the payload does not fit the type's schema. */
  run(envelope: JobEnvelope, context: JobContext): Promise<void>;
  /** See FinalFailureHook. */
  readonly onFinalFailure?: FinalFailureHook;
}

export interface JobOptions {
  readonly onFinalFailure?: FinalFailureHook;
}

/**
 * Declares a job type: its payload is parsed with `schema` before `run` sees it.
 *
 * @example
 * const toolInvoke = defineJob('tool.invoke', z.object({ name: z.string() }), async (job, { logger }) => {
 *   logger.info('invoking', { tool: job.payload.name });
 * }, { onFinalFailure: async (envelope, error) => markJobFailed(envelope.id, String(error)) });
 */
export const defineJob = <Schema extends z.ZodType>(
  type: string,
  schema: Schema,
  run: (job: Job<z.infer<Schema>>, context: JobContext) => Promise<void>,
  options: JobOptions = {},
): JobDefinition => ({
  type,
  ...(options.onFinalFailure && { onFinalFailure: options.onFinalFailure }),
  async run(envelope, context) {
    const parsed = schema.safeParse(envelope.payload);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
      throw new PoisonMessageError(`invalid '${type}' payload: ${issues.join('; ')}`);
    }
    await run({ ...envelope, payload: parsed.data }, context);
  },
});

export type JobRegistry = ReadonlyMap<string, JobDefinition>;

/**
 * The job types one queue's consumer serves. A type registered twice is a wiring bug and throws.
 *
 * @example
 * export const TOOL_JOBS = createJobRegistry([toolInvoke]);
 */
export const createJobRegistry = (definitions: readonly JobDefinition[]): JobRegistry => {
  const registry = new Map<string, JobDefinition>();
  for (const definition of definitions) {
    if (registry.has(definition.type)) throw new Error(`job type '${definition.type}' registered twice`);
    registry.set(definition.type, definition);
  }
  return registry;
};
