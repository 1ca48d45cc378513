// Core: an LlmClient decorator that tries a chain of links (another model, another provider, and last
// the rule-based provider) and answers with the first that works. It falls back only on provider faults:
// the caller's own bad request or abort goes straight up. Answers from any link but the first are
// marked degraded. A stream falls back only before it has yielded anything.
import type { LlmClient } from '../ports/llm-client';
import { isUpstreamFault } from './errors';
import type { ChatCompletion, ChatDelta, ChatRequest, LlmCallOptions } from './types';

export interface FallbackLink {
  /** For logs: which link answered or failed. */
  name: string;
  client: LlmClient;
  /** Ask this link for another model than the request names (e.g. a smaller one). */
  model?: string;
}

export interface FallbackOptions {
  /** `model`: the model the failed link was asked for; `user`: the request's (the tenant id). */
  onFallback?: (info: {
    from: string;
    to: string;
    error: unknown;
    model: string;
    user?: string | undefined;
  }) => void;
}

/**
 * Tries each link in order.
 *
 * @example
 * const llm = new FallbackLlmClient([
 *   { name: 'openai', client: primary },
 *   { name: 'openai-mini', client: primary, model: 'gpt-4o-mini' },
 *   { name: 'rule-based', client: new RuleBasedLlmClient() },
 * ]);
 */
export class FallbackLlmClient implements LlmClient {
  constructor(
    private readonly links: readonly FallbackLink[],
    private readonly options: FallbackOptions = {},
  ) {
    if (links.length === 0) throw new Error('a fallback chain needs at least one link');
  }

  private requestFor(link: FallbackLink, request: ChatRequest): ChatRequest {
    return link.model ? { ...request, model: link.model } : request;
  }

  private shouldFallBack(index: number, error: unknown): boolean {
    return index < this.links.length - 1 && isUpstreamFault(error);
  }

  private noteFallback(index: number, error: unknown, request: ChatRequest): void {
    const link = this.links[index];
    const from = link?.name ?? '';
    const to = this.links[index + 1]?.name ?? '';
    const model = link?.model ?? request.model;
    this.options.onFallback?.({ from, to, error, model, user: request.user });
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    for (const [index, link] of this.links.entries()) {
      try {
        const completion = await link.client.complete(this.requestFor(link, request), options);
        return index === 0 ? completion : { ...completion, degraded: true };
      } catch (error) {
        if (!this.shouldFallBack(index, error)) throw error;
        this.noteFallback(index, error, request);
      }
    }
    throw new Error('unreachable: the last link either answers or throws');
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    for (const [index, link] of this.links.entries()) {
      let yielded = false;
      try {
        for await (const delta of link.client.stream(this.requestFor(link, request), options)) {
          yielded = true;
          yield delta.type === 'finish' && index > 0 ? { ...delta, degraded: true } : delta;
        }
        return;
      } catch (error) {
        if (yielded || !this.shouldFallBack(index, error)) throw error;
        this.noteFallback(index, error, request);
      }
    }
  }
}
