// Core: what the chat use cases need (ports and settings), and how stored messages become LLM messages.

import type { ChatMessage } from '../llm/types';
import type { JobQueue } from '../ports/job-queue';
import type { LlmClient } from '../ports/llm-client';
import type { QuotaLedger } from '../ports/quota-ledger';
import { type Quotas, tenantQuotas } from '../quotas/schemas';
import { SessionNotFoundError } from '../sessions/errors';
import type { SessionDeps } from '../sessions/model';
import type { MessageRecord, SessionRecord } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import type { ToolRegistry } from '../tools/registry';
import { selectWindow, summaryMessage, WINDOW_MESSAGES, windowLimit } from './session-window';

/** Time limits of the chat paths, in milliseconds. */
export interface ChatTimeouts {
  /**
   * How long `POST /v1/sessions/{id}/messages` works inline before it hands the run to the queue and
   * answers 202. Below API Gateway's 30 s integration timeout and the chat-api function's own timeout,
   * with room left to record progress and enqueue.
   */
  readonly syncDeadlineMs: number;
  /** A run's whole budget, from its first start: redeliveries do not extend it. */
  readonly runBudgetMs: number;
  /** `POST /v1/chat/completions` has no queue to fall back on: its model call must end by then. */
  readonly completionDeadlineMs: number;
  /**
   * The delay of an inline turn's recovery job (SQS allows at most 900 s), and the lease of the holds
   * its first step takes (tokens, slot). It must pass chat-api's own timeout, so the job never resumes a
   * run that a live invocation is still running, and a hold never lapses under a live invocation; by
   * default `recoveryDelaySeconds` (message-turn.ts) derives it from `syncDeadlineMs`.
   */
  readonly recoveryDelaySeconds?: number;
}

/** Inline and completions deadlines fit chat-api's 29 s timeout; the run budget fits chat-worker's 120 s. */
export const DEFAULT_CHAT_TIMEOUTS: ChatTimeouts = {
  syncDeadlineMs: 20_000,
  runBudgetMs: 100_000,
  completionDeadlineMs: 25_000,
};

/** Steps of a run when the tenant's `max_steps_per_run` is unlimited: a loop must end somewhere. */
export const HARD_MAX_STEPS = 50;

/** What the chat use cases need besides the session ports. */
export interface ChatDeps extends SessionDeps {
  readonly ledger: QuotaLedger;
  readonly llm: LlmClient;
  readonly tools: ToolRegistry;
  readonly jobs: JobQueue;
  readonly timeouts: ChatTimeouts;
}

/** The quotas in force for a tenant, from the stage's plans. */
export const quotasOf = (deps: Pick<SessionDeps, 'settings'>, tenant: TenantRecord): Quotas =>
  tenantQuotas(tenant, deps.settings.tenants.plans, deps.settings.tenants.defaultPlan);

export const nowMs = (deps: Pick<SessionDeps, 'clock'>): number => deps.clock.now().getTime();

/**
 * A stored message as the model sees it.
 *
 * @example
 * history.map(toChatMessage); // ChatMessage[] for buildContext
 */
export const toChatMessage = (
  message: Pick<MessageRecord, 'role' | 'content' | 'tool_calls' | 'tool_call_id'>,
): ChatMessage => {
  switch (message.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.tool_calls?.length && { tool_calls: message.tool_calls }),
      };
    case 'tool':
      return { role: 'tool', content: message.content ?? '', tool_call_id: message.tool_call_id ?? '' };
    default:
      return { role: message.role, content: message.content ?? '' };
  }
};

/**
 * What a turn reads first: the session and the newest messages its model's window takes, oldest first,
 * preceded by the session's running summary when it has one (session-window.ts). One Query, newest first,
 * with a Limit of at most `WINDOW_MESSAGES` (+1 to know whether older ones exist) that also returns the
 * session item (it sorts next to the messages), so a turn's read costs the same at message 10 or 10,000.
 * `compactBefore` says that older, unsummarized messages fell out of the window (see compact-session.ts).
 * Undefined when the session is absent (or being deleted).
 *
 * @example
 * const found = await loadSessionHistory(deps, tenantId, sessionId, modelLimits(model).contextTokens);
 */
export const loadSessionHistory = async (
  deps: Pick<SessionDeps, 'store'>,
  tenantId: string,
  sessionId: string,
  /** Or, when the caller learns the model from the session itself, how to get it from the session. */
  contextWindow: number | ((session: SessionRecord) => number),
): Promise<{ session: SessionRecord; history: ChatMessage[]; compactBefore?: string } | undefined> => {
  // The model, and so its window, may be known only from the session: read the most any window takes.
  const limit = typeof contextWindow === 'number' ? windowLimit(contextWindow) : WINDOW_MESSAGES;
  const read = await deps.store.readSessionWithHistory(tenantId, sessionId, limit);
  if (!read) return undefined;
  const contextTokens = typeof contextWindow === 'number' ? contextWindow : contextWindow(read.session);
  const window = selectWindow(
    read.session,
    read.messages.items,
    read.messages.nextCursor !== undefined,
    contextTokens,
  );
  const summary = summaryMessage(read.session);
  return {
    session: read.session,
    history: [...(summary ? [summary] : []), ...window.messages.map(toChatMessage)],
    ...(window.compactBefore !== undefined && { compactBefore: window.compactBefore }),
  };
};

/**
 * The session's recent history, oldest first (see `loadSessionHistory`); `SessionNotFoundError` when
 * the session is gone.
 *
 * @example
 * const history = await loadHistory(deps, tenantId, sessionId, modelLimits(model).contextTokens);
 */
export const loadHistory = async (
  deps: Pick<SessionDeps, 'store'>,
  tenantId: string,
  sessionId: string,
  contextTokens: number,
): Promise<ChatMessage[]> => {
  const found = await loadSessionHistory(deps, tenantId, sessionId, contextTokens);
  if (!found) throw new SessionNotFoundError(sessionId);
  return found.history;
};
