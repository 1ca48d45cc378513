// Use case: append messages to a session atomically and at most once per caller-supplied append id.
import { z } from 'zod';
import { newId, timeOfId } from '../ids';
import type { ReleaseResult, SettleResult } from '../ports/quota-ledger';
import type { AppendMessagesRequest, RunTransition } from '../ports/session-store';
import { InvalidAppendError, SessionBusyError, SessionNotFoundError } from './errors';
import { type SessionDeps, toMessageResource, unixSeconds } from './model';
import { isFinalRunStatus } from './run-transitions';
import {
  type MessageRecord,
  type MessageResource,
  type NewMessage,
  NewMessageSchema,
  type RunStatus,
} from './schemas';

/** One DynamoDB transaction holds 100 items; the marker and the session take two. */
export const MAX_APPEND_MESSAGES = 50;
/** Concurrent appends to one session retry this often before giving up with 409. */
const MAX_ATTEMPTS = 5;

export const AppendMessagesInput = z
  .object({
    append_id: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'an append id is 1-200 letters, digits, or _ . : -'),
    messages: z.array(NewMessageSchema).min(1).max(MAX_APPEND_MESSAGES),
  })
  .strict();
export type AppendMessagesInput = { append_id: string; messages: NewMessage[] };

export interface AppendedMessages {
  readonly messages: MessageResource[];
  /** True when this append id had been applied before: the first append's messages, nothing new written. */
  readonly replayed: boolean;
  /** With a run transition (or a new run) asked for: true when it was written with the messages. */
  readonly transitioned?: boolean;
  /** With a settle asked for: what the store wrote with the messages (absent: settle it apart). */
  readonly settled?: SettleResult;
  /** With a slot release asked for: what the store wrote with the messages (absent: release it apart). */
  readonly slotReleased?: ReleaseResult;
}

/** What an append may carry besides its messages. */
export interface AppendOptions {
  /** The session's last message id as the caller knows it: the first attempt skips the session read. */
  readonly known?: { readonly lastMessageId: string | null };
  /** Written in the same transaction (see `AppendMessagesRequest.runTransition`). */
  readonly runTransition?: RunTransition;
  /** The run, first written with these messages (see `AppendMessagesRequest.newRun`). */
  readonly newRun?: AppendMessagesRequest['newRun'];
  /** The settle of the step's token hold, in the same transaction where the store can. */
  readonly settle?: AppendMessagesRequest['settle'];
  /** The run's concurrent-run slot, released in the same transaction where the store can. */
  readonly releaseSlot?: AppendMessagesRequest['releaseSlot'];
}

/**
 * Ids are chosen after the session's last message, one millisecond apart, so the session's order is the
 * append order even within one millisecond or across machines whose clocks disagree a little.
 */
const idsAfter = (lastMessageId: string | null, nowMs: number, count: number): string[] => {
  const last = lastMessageId === null ? undefined : timeOfId(lastMessageId);
  const base = Math.max(nowMs, last === undefined ? 0 : last + 1);
  return Array.from({ length: count }, (_, index) => newId('msg', base + index));
};

/**
 * Used by the agent loop: a redelivered queue message that appends again with the same `append_id`
 * gets the first append's messages back and writes nothing.
 *
 * @example
 * const { messages, replayed } = await appendMessages(deps, tenantId, sessionId, {
 *   append_id: `${runId}:step-1`,
 *   messages: [{ role: 'assistant', content: 'Hello!', run_id: runId }],
 * });
 */
/**
 * An append's input as the session takes it, or InvalidAppendError (400) naming the first problem: a
 * caller may check its messages before work that should not be done for an append that cannot be.
 *
 * @example
 * parseAppend({ append_id: 'chatcmpl-1', messages: [{ role: 'user', content: 'Hi' }] });
 */
export const parseAppend = (input: AppendMessagesInput): AppendMessagesInput => {
  const parsed = AppendMessagesInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidAppendError(`${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
};

export const appendMessages = async (
  deps: SessionDeps,
  tenantId: string,
  sessionId: string,
  input: AppendMessagesInput,
  options: AppendOptions = {},
): Promise<AppendedMessages> => {
  const { known, runTransition, newRun, settle, releaseSlot } = options;
  const { append_id: appendId, messages } = parseAppend(input);
  for (let attempt = 1; ; attempt += 1) {
    let lastMessageId: string | null;
    if (attempt === 1 && known) {
      lastMessageId = known.lastMessageId;
    } else {
      const session = await deps.store.getSession(tenantId, sessionId);
      if (!session) throw new SessionNotFoundError(sessionId);
      lastMessageId = session.last_message_id;
    }
    const request = appendRequest(tenantId, sessionId, appendId, lastMessageId, deps.clock.now(), messages);
    try {
      const result = await deps.store.appendMessages({
        ...request,
        ...(runTransition && { runTransition }),
        ...(newRun && { newRun }),
        ...(settle && { settle }),
        ...(releaseSlot && { releaseSlot }),
      });
      const finalStatus = (runTransition?.changes.status ?? newRun?.status) as RunStatus | undefined;
      if (result.transitioned && finalStatus && isFinalRunStatus(finalStatus)) {
        deps.metrics?.runFinished({ tenantId, status: finalStatus });
      }
      return {
        messages: result.messages.map(toMessageResource),
        replayed: result.replayed,
        ...((runTransition || newRun) && { transitioned: result.transitioned === true }),
        ...(result.settled && { settled: result.settled }),
        ...(result.slotReleased && { slotReleased: result.slotReleased }),
      };
    } catch (error) {
      if (!(error instanceof SessionBusyError) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
};

/**
 * The store request of an append after `lastMessageId`: ids chosen in order, timestamps from `now`.
 *
 * @example
 * await deps.store.createRun(run, appendRequest(tenantId, sessionId, `${run.id}:user`, null, now, messages));
 */
export const appendRequest = (
  tenantId: string,
  sessionId: string,
  appendId: string,
  lastMessageId: string | null,
  now: Date,
  messages: readonly NewMessage[],
): AppendMessagesRequest => {
  const ids = idsAfter(lastMessageId, now.getTime(), messages.length);
  const records: MessageRecord[] = messages.map((message, index) => ({
    id: ids[index] as string,
    tenant_id: tenantId,
    session_id: sessionId,
    role: message.role,
    content: message.content,
    ...(message.tool_calls && { tool_calls: message.tool_calls }),
    ...(message.tool_call_id !== undefined && { tool_call_id: message.tool_call_id }),
    ...(message.run_id !== undefined && { run_id: message.run_id }),
    created_at: unixSeconds(now),
  }));
  return {
    tenantId,
    sessionId,
    appendId,
    expectedLastMessageId: lastMessageId,
    messages: records,
    updatedAt: unixSeconds(now),
  };
};
