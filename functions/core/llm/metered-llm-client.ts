// Core: an LlmClient decorator that tells PlatformMetrics about each answer: who gave it (model, provider,
// degraded or not), the tokens it used, its latency and, for a stream, the time to its first token. Put
// around a whole fallback chain, it sees the answer the caller gets, whichever link gave it.
import type { LlmClient } from '../ports/llm-client';
import type { PlatformMetrics } from '../ports/platform-metrics';
import type { ChatCompletion, ChatDelta, ChatRequest, FinishDelta, LlmCallOptions } from './types';

/**
 * @example
 * const llm = new MeteredLlmClient(chain, metrics);
 * await llm.complete({ model: 'gpt-4o-mini', messages, user: tenantId }); // metrics.llmAnswered({ ... })
 */
export class MeteredLlmClient implements LlmClient {
  constructor(
    private readonly inner: LlmClient,
    private readonly metrics: PlatformMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  private answered(
    request: ChatRequest,
    answer: ChatCompletion | FinishDelta,
    startedAt: number,
    firstTokenAt?: number,
  ): void {
    this.metrics.llmAnswered({
      tenantId: request.user,
      model: answer.model,
      provider: answer.provider,
      degraded: answer.degraded,
      promptTokens: answer.usage.prompt_tokens,
      completionTokens: answer.usage.completion_tokens,
      latencyMs: this.now() - startedAt,
      ...(firstTokenAt !== undefined && { timeToFirstTokenMs: firstTokenAt - startedAt }),
    });
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    const startedAt = this.now();
    const completion = await this.inner.complete(request, options);
    this.answered(request, completion, startedAt);
    return completion;
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    const startedAt = this.now();
    let firstTokenAt: number | undefined;
    for await (const delta of this.inner.stream(request, options)) {
      if (delta.type === 'finish') this.answered(request, delta, startedAt, firstTokenAt ?? this.now());
      else firstTokenAt ??= this.now();
      yield delta;
    }
  }
}
