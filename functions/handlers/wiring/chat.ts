// Handlers' wiring: the chat use cases' ports short of the LLM (sessions, quotas, tools, the chat-runs
// queue). ws-default records and queues runs with these alone; the LLM functions add the model (./llm).
import { sqs } from '../../adapters/aws-clients';
import { SqsJobQueue } from '../../adapters/sqs/job-queue';
import { requireEnv } from '../../config';
import { type ChatDeps, DEFAULT_CHAT_TIMEOUTS } from '../../core/chat/model';
import { InternalError } from '../../core/errors';
import type { JobQueue } from '../../core/ports/job-queue';
import type { LlmClient } from '../../core/ports/llm-client';
import { createBuiltinToolRegistry } from '../../core/tools/builtin';
import type { ToolRegistry } from '../../core/tools/registry';
import { ENV } from '../../platform/env';
import { quotaLedger, sessionDeps } from './stores';

let jobs: JobQueue | undefined;
let tools: ToolRegistry | undefined;

/** `run.execute` jobs go to chat-runs. */
export const chatRunsQueue = (): JobQueue => {
  jobs ??= new SqsJobQueue(sqs(), requireEnv([ENV.chatRunsQueueUrl])[ENV.chatRunsQueueUrl]);
  return jobs;
};

export const toolRegistry = (): ToolRegistry => {
  tools ??= createBuiltinToolRegistry();
  return tools;
};

/** Functions that record and queue runs but never call the model (ws-default) hold no LLM key. */
const noLlm: LlmClient = {
  complete: () => Promise.reject(new InternalError('llm_not_wired', 'this function does not call the LLM')),
  // biome-ignore lint/correctness/useYield: it refuses before yielding anything.
  stream: async function* () {
    throw new InternalError('llm_not_wired', 'this function does not call the LLM');
  },
};

/** The chat use cases' ports, with the given LLM. */
export const chatPorts = (llm: LlmClient): ChatDeps => ({
  ...sessionDeps(),
  ledger: quotaLedger(),
  llm,
  tools: toolRegistry(),
  jobs: chatRunsQueue(),
  timeouts: DEFAULT_CHAT_TIMEOUTS,
});

/** The chat use cases' ports without the LLM: enough to record a run and queue it. */
export const queueingChatDeps = (): ChatDeps => chatPorts(noLlm);
