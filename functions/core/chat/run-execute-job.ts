// Use case: the `run.execute` job of the chat-runs queue: resume a run from its persisted steps.
import { defineJob, type FinalFailureHook, type JobDefinition } from '../jobs/registry';
import type { JobEnvelope } from '../jobs/schemas';
import type { TenantStore } from '../ports/tenant-store';
import { runSlotHold } from '../quotas/acquire-run-slot';
import { isFinalRunStatus } from '../sessions/run-transitions';
import { type ExecuteRunInput, type ExecuteRunOutcome, executeRun } from './execute-run';
import type { ChatDeps } from './model';
import { RUN_EXECUTE_JOB, RunExecutePayload } from './schemas';

/**
 * The envelope that continues a run on the queue.
 *
 * @example
 * await deps.jobs.enqueue(runExecuteEnvelope(tenantId, runId, sessionId));
 */
export const runExecuteEnvelope = (tenantId: string, runId: string, sessionId: string): JobEnvelope => ({
  type: RUN_EXECUTE_JOB,
  tenant_id: tenantId,
  id: runId,
  payload: { session_id: sessionId },
});

/** `error.code` of a run failed because its job was dead-lettered; redriving the job takes it up again. */
export const DEAD_LETTERED_RUN_CODE = 'run_dead_lettered';

export interface RunExecuteJobOptions {
  /** Runs the run (default `executeRun`); the chat worker streams it to WebSocket subscribers instead. */
  readonly execute?: (deps: ChatDeps, input: ExecuteRunInput) => Promise<ExecuteRunOutcome>;
  /** The job's last delivery failed: e.g. mark the run failed before SQS dead-letters the message. */
  readonly onFinalFailure?: FinalFailureHook;
}

/**
 * The chat worker's handler for `run.execute`. A redelivered job finds the run's steps on record and
 * continues after them; a finished run is left alone. A suspended or deleted tenant's run is cancelled.
 * Store failures are thrown, so the queue delivers the job again.
 *
 * @example
 * export const CHAT_RUN_JOBS = createJobRegistry([runExecuteJob(() => chatDeps(), tenantStore)]);
 */
export const runExecuteJob = (
  deps: () => ChatDeps | Promise<ChatDeps>,
  tenants: () => TenantStore,
  onOutcome?: (outcome: ExecuteRunOutcome) => void,
  options: RunExecuteJobOptions = {},
): JobDefinition =>
  defineJob(
    RUN_EXECUTE_JOB,
    RunExecutePayload,
    async (job, { logger, signal }) => {
      const chat = await deps();
      // Most jobs are the recovery jobs of inline runs that went on after their first step and finished long
      // ago: one read settles them. A dead-lettered run is the exception: its redriven job takes it up
      // again (see streamRun).
      const run = await chat.store.getRun(job.tenant_id, job.id);
      if (!run) {
        // Never written (an inline turn that died between queuing its recovery and its first write, with
        // its slot renewed to a run's lease), or deleted with its session: the slot, if any, goes back.
        const released = await chat.ledger.release(runSlotHold(job.tenant_id, job.id));
        logger.info('run.execute: nothing to do', { run_id: job.id, status: 'gone', slot: released.status });
        return;
      }
      if (isFinalRunStatus(run.status) && run.error?.code !== DEAD_LETTERED_RUN_CODE) {
        logger.info('run.execute: nothing to do', { run_id: job.id, status: run.status });
        return;
      }
      const tenant = await tenants().getTenant(job.tenant_id);
      if (tenant?.status !== 'active') {
        if (run.status === 'queued' || run.status === 'in_progress') {
          await chat.store
            .transitionRun(job.tenant_id, job.id, ['queued', 'in_progress'], {
              status: 'cancelled',
              updated_at: Math.floor(chat.clock.now().getTime() / 1000),
              completed_at: Math.floor(chat.clock.now().getTime() / 1000),
            })
            .then(() => chat.metrics?.runFinished({ tenantId: job.tenant_id, status: 'cancelled' }))
            .catch(() => undefined);
          await chat.ledger.release(runSlotHold(job.tenant_id, job.id));
        }
        logger.warn('run.execute: tenant not active; run cancelled', { run_id: job.id });
        return;
      }
      const execute = options.execute ?? executeRun;
      const outcome = await execute(chat, { tenant, runId: job.id, run, ...(signal && { signal }) });
      logger.info('run.execute finished', {
        run_id: job.id,
        status: outcome.status,
        ...('run' in outcome && {
          steps: outcome.run.steps.length,
          total_tokens: outcome.run.usage.total_tokens,
        }),
      });
      onOutcome?.(outcome);
    },
    options.onFinalFailure ? { onFinalFailure: options.onFinalFailure } : {},
  );
