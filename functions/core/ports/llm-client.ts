// Port: a chat model, OpenAI-compatible or not. The `openai` SDK, the resilience decorators and the
// rule-based provider all implement it, so the agent loop never knows which one answers.
import type { ChatCompletion, ChatDelta, ChatRequest, LlmCallOptions } from '../llm/types';

/**
 * A chat-completions client. Both methods honour `signal` and finish (or fail) by `deadlineMs`.
 * Failures are the domain errors of `functions/core/llm/errors.ts` (LlmRateLimitedError, LlmTimeoutError,
 * LlmUnavailableError, ...), never a provider SDK's types. A stream that breaks off throws; it never just
 * ends short, so a stream that ends normally always ends with a `finish` chunk.
 *
 * @example
 * const llm: LlmClient = new ProviderRoutingLlmClient({ catalogue, breakers, connect: openAiConnector(options) });
 * const deadlineMs = Date.now() + context.getRemainingTimeInMillis() - 2_000;
 * const answer = await llm.complete({ model: 'gpt-4o-mini', messages }, { signal, deadlineMs });
 * console.log(answer.message.content, answer.provider, answer.degraded);
 *
 * for await (const delta of llm.stream({ model: 'gpt-4o-mini', messages }, { signal, deadlineMs })) {
 *   if (delta.type === 'text') process.stdout.write(delta.text);
 *   if (delta.type === 'finish') console.log(delta.usage, delta.provider);
 * }
 */
export interface LlmClient {
  /** The whole answer at once. */
  complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion>;
  /** The answer as it is produced: text and tool-call fragments, then one `finish` chunk. */
  stream(request: ChatRequest, options?: LlmCallOptions): AsyncIterable<ChatDelta>;
}
