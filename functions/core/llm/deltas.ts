// Core: turning a whole completion into stream deltas and back, shared by providers and decorators.
import { LlmUnavailableError } from './errors';
import type { ChatCompletion, ChatDelta, FinishDelta, ToolCall } from './types';

/** Splits text into word-sized pieces (each word keeps its leading whitespace), as a model streams. */
const splitIntoPieces = (text: string): string[] => text.match(/\s*\S+|\s+$/g) ?? [];

/**
 * The deltas a provider would have streamed for this completion: text pieces, then each tool call's id
 * and name, its arguments in two fragments, then the finish chunk.
 */
export function* completionToDeltas(completion: ChatCompletion): Generator<ChatDelta> {
  for (const text of splitIntoPieces(completion.message.content ?? '')) yield { type: 'text', text };
  for (const [index, call] of (completion.message.tool_calls ?? []).entries()) {
    const args = call.function.arguments;
    const half = Math.ceil(args.length / 2);
    yield { type: 'tool_call', index, id: call.id, name: call.function.name, arguments: args.slice(0, half) };
    if (half < args.length) yield { type: 'tool_call', index, arguments: args.slice(half) };
  }
  const finish: FinishDelta = {
    type: 'finish',
    id: completion.id,
    finish_reason: completion.finish_reason,
    usage: completion.usage,
    provider: completion.provider,
    model: completion.model,
    degraded: completion.degraded,
  };
  if (completion.usage_estimated) finish.usage_estimated = true;
  yield finish;
}

/**
 * Folds a stream back into one completion (what an agent step needs once the live text has been relayed).
 * A stream without a finish chunk is a broken stream: callers get the error the stream threw instead.
 *
 * @example
 * const completion = await collectStream(llm.stream(request, options), nowSeconds);
 */
export const collectStream = async (
  deltas: AsyncIterable<ChatDelta>,
  created: number = Math.floor(Date.now() / 1000),
): Promise<ChatCompletion> => {
  let text = '';
  let sawText = false;
  const calls: ToolCall[] = [];
  for await (const delta of deltas) {
    if (delta.type === 'text') {
      text += delta.text;
      sawText = true;
    } else if (delta.type === 'tool_call') {
      let call = calls[delta.index];
      if (!call) {
        call = { id: '', type: 'function', function: { name: '', arguments: '' } };
        calls[delta.index] = call;
      }
      if (delta.id) call.id = delta.id;
      if (delta.name) call.function.name += delta.name;
      if (delta.arguments) call.function.arguments += delta.arguments;
    } else {
      const toolCalls = calls.filter(Boolean);
      const completion: ChatCompletion = {
        id: delta.id,
        created,
        provider: delta.provider,
        model: delta.model,
        degraded: delta.degraded,
        message: {
          role: 'assistant',
          content: sawText || toolCalls.length === 0 ? text : null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: delta.finish_reason,
        usage: delta.usage,
      };
      if (delta.usage_estimated) completion.usage_estimated = true;
      return completion;
    }
  }
  throw new LlmUnavailableError('the stream ended without a finish chunk', { code: 'llm_stream_truncated' });
};
