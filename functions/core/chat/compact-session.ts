// Use case: compaction of a long session's older turns, off the turn's critical path. A turn that sees
// unhandled messages fall out of its window fences the session and queues `session.compact` on chat-runs;
// the job folds them into the running summary with the session's model, charged to the tenant like a turn,
// or (the rule-based provider cannot summarize) marks them truncated. See docs/sessions-context.md.
import type { Logger } from '../../observability/logger';
import { defineJob, type JobDefinition } from '../jobs/registry';
import type { JobEnvelope } from '../jobs/schemas';
import { RULE_BASED_PROVIDER } from '../llm/rule-based-provider';
import { estimateMessageTokens } from '../llm/token-estimate';
import type { ChatMessage } from '../llm/types';
import { encodeCursor } from '../pagination';
import type { TenantStore } from '../ports/tenant-store';
import { QuotaExceededError } from '../quotas/errors';
import { releaseTokens } from '../quotas/release-tokens';
import { unixSeconds } from '../sessions/model';
import type { MessageRecord, SessionContextState, SessionRecord } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { meteredLlmStep } from './metered-step';
import { type ChatDeps, nowMs, quotasOf } from './model';
import { modelLimits } from './model-limits';
import { COMPACT_SESSION_JOB, CompactSessionPayload } from './schemas';
import {
  COMPACTION_STALE_SECONDS,
  handledThrough,
  shouldRequestCompaction,
  WINDOW_MESSAGES,
} from './session-window';

/** The summary's length: enough for the facts and decisions of a long conversation, and a bounded cost. */
const SUMMARY_MAX_TOKENS = 512;
/** Messages one compaction reads (newest first, from the edge back): two windows cover any due overflow. */
export const COMPACT_READ_MESSAGES = 2 * WINDOW_MESSAGES;
/** A tool result is cut to this many characters in the transcript the summarizer reads. */
const TOOL_RESULT_CHARS = 1_000;
const SUMMARY_DEADLINE_MS = 60_000;

/** The summarizer's instructions (the benchmark tells its calls from a turn's by them). */
const SUMMARIZER_PROMPT =
  'You keep the running summary of a conversation between a user and an assistant. Given the summary so ' +
  'far and the messages that followed it, write the new summary: the facts, names, numbers, decisions, ' +
  "open questions and the user's preferences a reader needs to continue the conversation. Write plain " +
  "prose or short bullet points, in the conversation's language, at most 300 words. Reply with the summary only.";

/**
 * True for a summarizer's call (its first message is the summarizer's instructions).
 *
 * @example
 * isSummaryRequest(request); // false for a turn's call
 */
export const isSummaryRequest = (request: { messages?: unknown } | undefined): boolean => {
  const [first] = Array.isArray(request?.messages) ? request.messages : [];
  return (first as { content?: unknown } | undefined)?.content === SUMMARIZER_PROMPT;
};

/**
 * The envelope of one compaction; its id is the request's (the fence's), so a job whose request was
 * replaced finds itself superseded.
 *
 * @example
 * await deps.jobs.enqueue(compactSessionEnvelope(tenantId, sessionId, 'msg_…'));
 */
const compactSessionEnvelope = (tenantId: string, sessionId: string, before: string): JobEnvelope => ({
  type: COMPACT_SESSION_JOB,
  tenant_id: tenantId,
  id: compactionRequestId(before),
  payload: { session_id: sessionId, before },
});

/** One id per edge: two turns that saw the same edge ask for the same compaction. */
export const compactionRequestId = (before: string): string => `compact:${before}`;

/**
 * When the window says compaction is due and no other is queued: the fence (one conditional write on the
 * session item), then the job. Returns true when it queued one. A queue failure lifts the fence again, so
 * the next turn may ask; if even that fails, the fence goes stale after `COMPACTION_STALE_SECONDS`.
 *
 * @example
 * await requestCompactionIfDue(deps, tenant.id, found.session, found.compactBefore);
 */
export const requestCompactionIfDue = async (
  deps: Pick<ChatDeps, 'store' | 'jobs' | 'clock'>,
  tenantId: string,
  session: Pick<SessionRecord, 'id' | 'context' | 'compaction'>,
  compactBefore: string | undefined,
): Promise<boolean> => {
  const now = unixSeconds(deps.clock.now());
  const window = { compactBefore };
  if (!shouldRequestCompaction(session, window, now)) return false;
  const request = {
    request_id: compactionRequestId(window.compactBefore),
    before: window.compactBefore,
    requested_at: now,
  };
  if (!(await deps.store.requestCompaction(tenantId, session.id, request, now - COMPACTION_STALE_SECONDS))) {
    return false;
  }
  try {
    await deps.jobs.enqueue(compactSessionEnvelope(tenantId, session.id, window.compactBefore));
  } catch (error) {
    await deps.store
      .completeCompaction(tenantId, session.id, request.request_id, undefined)
      .catch(() => false);
    throw error;
  }
  return true;
};

export type CompactionOutcome =
  /** The session is gone, or another request replaced this one. */
  | { readonly status: 'gone' | 'superseded' }
  /** Everything before the edge was handled already. */
  | { readonly status: 'nothing' }
  | { readonly status: 'summarized' | 'truncated'; readonly through: string; readonly stored: boolean };

/** A message as a line of the transcript the summarizer reads. */
const transcriptLine = (message: MessageRecord): string => {
  const calls = (message.tool_calls ?? [])
    .map((call) => ` [calls ${call.function.name}(${call.function.arguments})]`)
    .join('');
  const content = message.content ?? '';
  const text = message.role === 'tool' ? content.slice(0, TOOL_RESULT_CHARS) : content;
  return `${message.role}: ${text}${calls}`;
};

/**
 * The summarizer's call: the summary so far and the messages after it, oldest first, as many of the newest
 * as the model's window holds beside the answer.
 */
export const summaryRequestMessages = (
  previous: string | null,
  newestFirst: readonly MessageRecord[],
  contextTokens: number,
): ChatMessage[] => {
  const system: ChatMessage = { role: 'system', content: SUMMARIZER_PROMPT };
  const head = `Summary so far:\n${previous ?? '(none yet)'}\n\nMessages that followed, oldest first:\n`;
  let room =
    contextTokens -
    SUMMARY_MAX_TOKENS -
    estimateMessageTokens(system) -
    estimateMessageTokens({ role: 'user', content: head });
  const lines: string[] = [];
  for (const message of newestFirst) {
    const line = transcriptLine(message);
    const cost = estimateMessageTokens({ role: 'user', content: line });
    if (cost > room) break;
    lines.push(line);
    room -= cost;
  }
  return [system, { role: 'user', content: head + lines.reverse().join('\n') }];
};

/**
 * Runs one compaction: reads the messages between the handled edge and `before` (at most
 * `COMPACT_READ_MESSAGES`, newest first), asks the session's model for the new running summary (its tokens
 * reserved and settled on the tenant's `tokens_per_month` like a turn's step), and stores it while the
 * fence is still this request's and the edge only moves forward. When the rule-based provider answered (no
 * model available) or the tenant's tokens are spent, nothing is summarized: the messages are marked
 * truncated and nothing is charged.
 *
 * @example
 * const outcome = await compactSession(deps, tenant, sessionId, 'msg_…');
 */
export const compactSession = async (
  deps: ChatDeps,
  tenant: TenantRecord,
  sessionId: string,
  before: string,
  signal?: AbortSignal,
): Promise<CompactionOutcome> => {
  const requestId = compactionRequestId(before);
  const session = await deps.store.getSession(tenant.id, sessionId);
  if (!session) return { status: 'gone' };
  if (session.compaction?.request_id !== requestId) return { status: 'superseded' };
  const edge = handledThrough(session);
  const page = await deps.store.listMessages(
    tenant.id,
    sessionId,
    { limit: COMPACT_READ_MESSAGES, order: 'desc', cursor: encodeCursor(before) },
    { sessionChecked: true },
  );
  const older = page.items.filter((message) => edge === null || message.id > edge);
  const through = older[0]?.id;
  if (through === undefined) {
    await deps.store.completeCompaction(tenant.id, sessionId, requestId, undefined);
    return { status: 'nothing' };
  }
  const now = unixSeconds(deps.clock.now());
  const truncate = async (): Promise<CompactionOutcome> => {
    const context: SessionContextState = {
      strategy: 'truncated',
      summary: session.context?.summary ?? null,
      summarized_through: session.context?.summarized_through ?? null,
      truncated_through: through,
      updated_at: now,
    };
    const stored = await deps.store.completeCompaction(tenant.id, sessionId, requestId, context);
    return { status: 'truncated', through, stored };
  };

  const model = session.model;
  const request = {
    model,
    messages: summaryRequestMessages(
      session.context?.summary ?? null,
      older,
      modelLimits(model).contextTokens,
    ),
    max_tokens: SUMMARY_MAX_TOKENS,
    user: tenant.id,
  };
  let summary: string | undefined;
  try {
    await meteredLlmStep(
      deps,
      {
        tenantId: tenant.id,
        tokenLimit: quotasOf(deps, tenant).tokens_per_month,
        reservationId: `${sessionId}:${requestId}`,
        request,
        deadlineMs: nowMs(deps) + SUMMARY_DEADLINE_MS,
        ...(signal && { signal }),
      },
      async (completion, _usage, reservation, settledWith) => {
        if (completion.provider === RULE_BASED_PROVIDER || !completion.message.content?.trim()) {
          // Not a summary: nothing is charged for it.
          await releaseTokens(deps, reservation);
          settledWith({ status: 'not_held' });
          return;
        }
        summary = completion.message.content.trim();
      },
    );
  } catch (error) {
    // No tokens left for it: the older turns are dropped rather than summarized.
    if (error instanceof QuotaExceededError) return truncate();
    throw error;
  }
  if (summary === undefined) return truncate();
  const stored = await deps.store.completeCompaction(tenant.id, sessionId, requestId, {
    strategy: 'summarized',
    summary,
    summarized_through: through,
    truncated_through: session.context?.truncated_through ?? null,
    updated_at: now,
  });
  return { status: 'summarized', through, stored };
};

/**
 * The chat worker's handler for `session.compact`. A suspended or deleted tenant's job does nothing; a
 * failure (the store, the model) is thrown, so the queue delivers the job again.
 *
 * @example
 * createJobRegistry([runExecuteJob(chatDeps, tenantStore), compactSessionJob(chatDeps, tenantStore)]);
 */
export const compactSessionJob = (
  deps: () => ChatDeps | Promise<ChatDeps>,
  tenants: () => TenantStore,
  onOutcome?: (outcome: CompactionOutcome) => void,
): JobDefinition =>
  defineJob(COMPACT_SESSION_JOB, CompactSessionPayload, async (job, { logger, signal }) => {
    const chat = await deps();
    const tenant = await tenants().getTenant(job.tenant_id);
    if (tenant?.status !== 'active') {
      logOutcome(logger, job.payload.session_id, { status: 'gone' });
      return;
    }
    const outcome = await compactSession(chat, tenant, job.payload.session_id, job.payload.before, signal);
    logOutcome(logger, job.payload.session_id, outcome);
    onOutcome?.(outcome);
  });

const logOutcome = (logger: Logger, sessionId: string, outcome: CompactionOutcome) =>
  logger.info('session.compact finished', { session_id: sessionId, ...outcome });
