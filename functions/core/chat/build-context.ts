// Use case: the messages one LLM call sees: the system prompt, then as much of the history as the
// model's context budget allows, newest turns kept, by the documented token estimate (token-estimate.ts).
import { LlmContextTooLongError } from '../llm/errors';
import { estimateMessageTokens, estimateToolsTokens, TOKENS_PER_REPLY } from '../llm/token-estimate';
import type { ChatMessage, FunctionTool } from '../llm/types';

export interface BuildContextInput {
  readonly systemPrompt: string | null;
  /** The session's messages, oldest first, the newest user message last. */
  readonly history: readonly ChatMessage[];
  readonly tools?: readonly FunctionTool[];
  /** The model's context window (model-limits.ts). */
  readonly contextTokens: number;
  /** Kept free for the answer: the call's `max_tokens`. */
  readonly maxTokens: number;
}

export interface BuiltContext {
  readonly messages: ChatMessage[];
  /** History messages left out because they did not fit (oldest first). */
  readonly dropped: number;
  /** The estimate of the prompt as built, tools included. */
  readonly promptTokens: number;
}

/**
 * History cut into the pieces that must stay together: an assistant message that calls tools together
 * with the tool results answering it (a model refuses a call without its results, or results without
 * their call). A result whose call is missing, or a call missing some results, is left out.
 */
const toUnits = (history: readonly ChatMessage[]): ChatMessage[][] => {
  const units: ChatMessage[][] = [];
  for (let index = 0; index < history.length; ) {
    const message = history[index] as ChatMessage;
    if (message.role === 'assistant' && message.tool_calls?.length) {
      const unit: ChatMessage[] = [message];
      let next = index + 1;
      while (next < history.length && history[next]?.role === 'tool')
        unit.push(history[next++] as ChatMessage);
      const answered = new Set(
        unit.slice(1).map((result) => (result as { tool_call_id: string }).tool_call_id),
      );
      if (message.tool_calls.every((call) => answered.has(call.id))) units.push(unit);
      index = next;
    } else {
      if (message.role !== 'tool') units.push([message]);
      index += 1;
    }
  }
  return units;
};

/**
 * Walks back from the newest turn and keeps whole units while they fit `contextTokens - maxTokens`.
 * The newest unit must fit, or the call could never succeed: LlmContextTooLongError (400).
 *
 * @example
 * const { messages } = buildContext({
 *   systemPrompt: 'You are terse.',
 *   history,
 *   tools,
 *   ...{ contextTokens: modelLimits(model).contextTokens, maxTokens: 1024 },
 * });
 */
export const buildContext = (input: BuildContextInput): BuiltContext => {
  const system: ChatMessage[] = input.systemPrompt ? [{ role: 'system', content: input.systemPrompt }] : [];
  const fixed =
    TOKENS_PER_REPLY +
    system.reduce((sum, message) => sum + estimateMessageTokens(message), 0) +
    estimateToolsTokens(input.tools);
  const budget = input.contextTokens - input.maxTokens - fixed;
  const units = toUnits(input.history);
  const kept: ChatMessage[][] = [];
  let used = 0;
  for (let index = units.length - 1; index >= 0; index -= 1) {
    const unit = units[index] as ChatMessage[];
    const cost = unit.reduce((sum, message) => sum + estimateMessageTokens(message), 0);
    if (used + cost > budget) break;
    kept.push(unit);
    used += cost;
  }
  if (units.length > 0 && kept.length === 0) {
    throw new LlmContextTooLongError(
      `The newest message does not fit the model's context window of ${input.contextTokens} tokens ` +
        `with ${input.maxTokens} kept for the answer`,
    );
  }
  // Kept newest first; the call sees them oldest first.
  const messages = [...system, ...kept.reverse().flat()];
  const total = units.reduce((sum, unit) => sum + unit.length, 0);
  return { messages, dropped: total - (messages.length - system.length), promptTokens: fixed + used };
};
