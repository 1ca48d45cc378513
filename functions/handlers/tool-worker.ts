// Handler: consumer of the tool-jobs queue; dispatches each job envelope by type, reports partial failures.
import { createJobRegistry, type JobRegistry } from '../core/jobs/registry';
import { createLogger } from '../observability/logger';
import { queueRetry } from './workers/job-retry';
import { createJobWorker, type JobWorkerDeps } from './workers/job-worker';

/** Empty in this version: no tool job type exists yet; the tools issue registers `tool.invoke`. */
export const TOOL_JOBS: JobRegistry = createJobRegistry([]);

export type ToolJobsWorkerDeps = JobWorkerDeps;

export const createToolJobsHandler = (deps: ToolJobsWorkerDeps) => createJobWorker('tool-jobs', deps);

export const handler = createToolJobsHandler({
  registry: TOOL_JOBS,
  logger: createLogger({ service: 'tool-worker' }),
  retry: queueRetry('toolJobs'),
});
