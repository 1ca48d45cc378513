// Handler: consumer of the chat-runs queue; dispatches each job envelope by type, reports partial failures.
// Runs are streamed to their WebSocket subscribers as they go (core/streaming/stream-run.ts).
import { ApiGatewayConnectionNotifier } from '../adapters/apigw-management/connection-notifier';
import { apiGatewayManagement } from '../adapters/aws-clients';
import { requireEnv } from '../config';
import { compactSessionJob } from '../core/chat/compact-session';
import { runExecuteJob } from '../core/chat/run-execute-job';
import { createJobRegistry, type JobRegistry } from '../core/jobs/registry';
import type { ConnectionNotifier } from '../core/ports/connection-notifier';
import { markRunDeadLettered, type StreamRunDeps, streamRun } from '../core/streaming/stream-run';
import { createLogger } from '../observability/logger';
import { ENV } from '../platform/env';
import { chatDeps } from './wiring/llm';
import { runStreamStore, tenantStore } from './wiring/stores';
import { queueRetry } from './workers/job-retry';
import { createJobWorker, type JobWorkerDeps } from './workers/job-worker';

const logger = createLogger({ service: 'chat-worker' });

let notifier: ConnectionNotifier | undefined;
const connectionNotifier = (): ConnectionNotifier => {
  notifier ??= new ApiGatewayConnectionNotifier(
    apiGatewayManagement(requireEnv([ENV.wsManagementEndpoint])[ENV.wsManagementEndpoint]),
  );
  return notifier;
};

const streaming = async (): Promise<StreamRunDeps> => ({
  chat: await chatDeps(),
  streams: runStreamStore(),
  notifier: connectionNotifier(),
  log: (message, fields) => logger.warn(message, fields),
});

/**
 * `run.execute`: continue a run from its persisted steps (see core/chat/run-execute-job.ts), streaming its
 * frames; on its last failed delivery the run is marked failed before SQS dead-letters the message.
 * `session.compact`: fold a long session's older turns into its summary (core/chat/compact-session.ts).
 */
export const CHAT_RUN_JOBS: JobRegistry = createJobRegistry([
  runExecuteJob(chatDeps, tenantStore, undefined, {
    execute: async (chat, input) => streamRun({ ...(await streaming()), chat }, input),
    onFinalFailure: markRunDeadLettered(streaming),
  }),
  compactSessionJob(chatDeps, tenantStore),
]);

export type ChatRunsWorkerDeps = JobWorkerDeps;

export const createChatRunsHandler = (deps: ChatRunsWorkerDeps) => createJobWorker('chat-runs', deps);

export const handler = createChatRunsHandler({
  registry: CHAT_RUN_JOBS,
  logger,
  retry: queueRetry('chatRuns'),
});
