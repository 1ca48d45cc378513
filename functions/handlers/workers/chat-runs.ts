// Handler: consumer of the chat-runs queue; dispatches each job envelope by type, reports partial failures.
import { runExecuteJob } from '../../core/chat/run-execute-job';
import { createJobRegistry, type JobRegistry } from '../../core/jobs/registry';
import { createLogger } from '../../observability/logger';
import { chatDeps, tenantStore } from '../wiring';
import { queueRetry } from './job-retry';
import { createJobWorker, type JobWorkerDeps } from './job-worker';

/** `run.execute`: continue a run from its persisted steps (see core/chat/run-execute-job.ts). */
export const CHAT_RUN_JOBS: JobRegistry = createJobRegistry([runExecuteJob(chatDeps, tenantStore)]);

export type ChatRunsWorkerDeps = JobWorkerDeps;

export const createChatRunsHandler = (deps: ChatRunsWorkerDeps) => createJobWorker('chat-runs', deps);

export const handler = createChatRunsHandler({
  registry: CHAT_RUN_JOBS,
  logger: createLogger({ service: 'chat-worker' }),
  retry: queueRetry('chatRuns'),
});
