// Core: which of a session's messages a turn reads and shows the model (its window), and when the turns
// that fell out of it are due for compaction. Pure: no ports. See docs/sessions-context.md.
import { estimateMessageTokens, TOKENS_PER_MESSAGE } from '../llm/token-estimate';
import type { ChatMessage } from '../llm/types';
import type {
  CompactionRequest,
  MessageRecord,
  SessionContextResource,
  SessionRecord,
} from '../sessions/schemas';

/**
 * The most messages a turn reads and shows verbatim, whatever the model's window: a turn's cost (one Query
 * of at most this many items, their token estimate, the prompt the provider bills) must not grow with the
 * session. A 128k-token window holds thousands of short messages; older turns reach the model through the
 * running summary instead.
 */
export const WINDOW_MESSAGES = 64;
/** The share of the model's context window the verbatim history may take (the rest: system prompt, summary, tools, answer). */
const HISTORY_SHARE = 0.75;
/** The smallest a message can cost by our estimate (its framing and one token): no window needs more than budget / this. */
const MIN_MESSAGE_TOKENS = TOKENS_PER_MESSAGE + 1;
/** A queued compaction older than this is presumed lost (its job never ran), and may be requested again. */
export const COMPACTION_STALE_SECONDS = 15 * 60;

/**
 * How many messages a turn reads, newest first: as many as the history budget could hold at the least a
 * message costs, and never more than `WINDOW_MESSAGES`.
 *
 * @example
 * windowLimit(128_000); // 64
 * windowLimit(200);     // 30
 */
export const windowLimit = (contextTokens: number): number =>
  Math.max(1, Math.min(WINDOW_MESSAGES, Math.floor(historyBudget(contextTokens) / MIN_MESSAGE_TOKENS)));

export const historyBudget = (contextTokens: number): number => Math.floor(contextTokens * HISTORY_SHARE);

/** Everything up to this message id is either in the summary or knowingly dropped (ids sort in append order). */
export const handledThrough = (session: Pick<SessionRecord, 'context'>): string | null => {
  const { summarized_through = null, truncated_through = null } = session.context ?? {};
  if (summarized_through === null) return truncated_through;
  if (truncated_through === null) return summarized_through;
  return summarized_through > truncated_through ? summarized_through : truncated_through;
};

export interface SessionWindow {
  /** The messages the model sees verbatim, oldest first. */
  readonly messages: MessageRecord[];
  /**
   * The oldest message that should stay verbatim when older, unhandled messages fell out of the window:
   * everything before it is due for compaction. Undefined when nothing is due.
   */
  readonly compactBefore?: string;
}

/**
 * From the newest messages as read (newest first, `more` when older ones exist beyond the read), keeps
 * those after the handled edge that fit `WINDOW_MESSAGES` and the history budget. When unhandled messages
 * fell out (the read stopped short of the edge, or the budget cut), compaction is due before the middle
 * of what is kept, so the newest half stays verbatim and the next compaction is half a window away.
 *
 * @example
 * const { messages, compactBefore } = selectWindow(session, newestFirst, page.nextCursor !== undefined, 128_000);
 */
export const selectWindow = (
  session: Pick<SessionRecord, 'context'>,
  newestFirst: readonly MessageRecord[],
  more: boolean,
  contextTokens: number,
): SessionWindow => {
  const edge = handledThrough(session);
  const budget = historyBudget(contextTokens);
  const limit = windowLimit(contextTokens);
  const kept: MessageRecord[] = [];
  let tokens = 0;
  let reachedEdge = false;
  let cut = false;
  for (const message of newestFirst) {
    if (edge !== null && message.id <= edge) {
      reachedEdge = true;
      break;
    }
    const cost = estimateMessageTokens(toWindowMessage(message));
    // The newest message always counts (a message too long for the model is buildContext's refusal).
    if (kept.length >= limit || (kept.length > 0 && tokens + cost > budget)) {
      cut = true;
      break;
    }
    kept.push(message);
    tokens += cost;
  }
  const fellOut = cut || (!reachedEdge && more);
  const keepVerbatim = Math.ceil(kept.length / 2);
  const before = kept[keepVerbatim - 1]?.id;
  return {
    messages: kept.reverse(),
    ...(fellOut && before !== undefined && { compactBefore: before }),
  };
};

/**
 * Whether this turn should queue the compaction its window says is due: not while another is queued
 * (unless that one is stale), and never behind the edge already handled.
 *
 * @example
 * if (shouldRequestCompaction(session, window, nowSeconds)) await requestCompaction(...);
 */
export const shouldRequestCompaction = (
  session: Pick<SessionRecord, 'context' | 'compaction'>,
  window: Pick<SessionWindow, 'compactBefore'>,
  nowSeconds: number,
): window is { compactBefore: string } => {
  if (window.compactBefore === undefined) return false;
  const edge = handledThrough(session);
  if (edge !== null && window.compactBefore <= edge) return false;
  const pending: CompactionRequest | undefined = session.compaction;
  return pending === undefined || pending.requested_at < nowSeconds - COMPACTION_STALE_SECONDS;
};

/** The session's running summary as the model reads it: one system message before the verbatim turns. */
export const summaryMessage = (session: Pick<SessionRecord, 'context'>): ChatMessage | undefined => {
  const summary = session.context?.summary;
  if (!summary) return undefined;
  return {
    role: 'system',
    content: `Summary of the earlier part of this conversation (those messages are not shown):\n${summary}`,
  };
};

/**
 * The `context` of the session resource.
 *
 * @example
 * toSessionContextResource(session); // { strategy: 'full', summarized_through: null, ... }
 */
export const toSessionContextResource = (
  session: Pick<SessionRecord, 'context' | 'compaction'>,
): SessionContextResource => ({
  strategy: session.context?.strategy ?? 'full',
  summarized_through: session.context?.summarized_through ?? null,
  truncated_through: session.context?.truncated_through ?? null,
  window_messages: WINDOW_MESSAGES,
  compacting: session.compaction !== undefined,
  updated_at: session.context?.updated_at ?? null,
});

/** Only the fields the token estimate reads (the chat model's own mapping lives in model.ts). */
const toWindowMessage = (message: MessageRecord): ChatMessage =>
  message.role === 'tool'
    ? { role: 'tool', content: message.content ?? '', tool_call_id: message.tool_call_id ?? '' }
    : message.role === 'assistant'
      ? {
          role: 'assistant',
          content: message.content,
          ...(message.tool_calls?.length && { tool_calls: message.tool_calls }),
        }
      : { role: message.role, content: message.content ?? '' };
