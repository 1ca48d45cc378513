// Adapter: LlmClient on the `openai` SDK, for OpenAI and any OpenAI-compatible endpoint. It bounds every
// call by the caller's deadline, leaves retries to RetryingLlmClient (the SDK's own are turned off per
// call), and translates every SDK failure into the LLM layer's domain errors.
import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletion as OpenAiChatCompletion,
} from 'openai/resources/chat/completions';
import {
  LlmAbortedError,
  LlmBadRequestError,
  LlmContextTooLongError,
  type LlmError,
  LlmRateLimitedError,
  LlmTimeoutError,
  LlmUnavailableError,
} from '../../core/llm/errors';
import { estimatePromptTokens, estimateTextTokens } from '../../core/llm/token-estimate';
import type {
  ChatCompletion,
  ChatDelta,
  ChatMessage,
  ChatRequest,
  FinishReason,
  LlmCallOptions,
  ToolCall,
  Usage,
} from '../../core/llm/types';
import type { LlmClient } from '../../core/ports/llm-client';
import { OPENAI_SDK_MAX_RETRIES } from '../../core/resilience/retry-policy';

export interface OpenAiLlmClientOptions {
  /** Name reported in answers and errors, and the circuit breaker's key (default `openai`). */
  provider?: string;
  /**
   * Longest wait for an answer (default 60 s): a whole call, or in a stream the first chunk and every
   * pause between two chunks, so a long answer that keeps coming is not cut. The deadline bounds both.
   */
  timeoutMs?: number;
  /** Kept free before the deadline so the caller can still record the failure (default 250 ms). */
  safetyMarginMs?: number;
  /** OpenAI's newer models want `max_completion_tokens`; many compatible servers only know `max_tokens`. */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** Epoch milliseconds; the clock `deadlineMs` is measured on. */
  now?: () => number;
}

type SdkParams = Omit<ChatCompletionCreateParamsBase, 'stream'>;

const FINISH_REASONS: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

const toSdkMessage = (message: ChatMessage): ChatCompletionMessageParam => {
  switch (message.role) {
    case 'tool':
      return { role: 'tool', content: message.content, tool_call_id: message.tool_call_id };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.name ? { name: message.name } : {}),
        ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}),
      };
    default:
      return {
        role: message.role,
        content: message.content,
        ...(message.name ? { name: message.name } : {}),
      };
  }
};

/** Milliseconds the provider asked us to wait: `retry-after-ms`, else `retry-after` (seconds or a date). */
export const parseRetryAfter = (headers: Headers | undefined, now: number): number | undefined => {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
};

/** Why our own controller aborted the request, if it did. */
type Cutoff = 'timeout' | 'caller' | undefined;

/**
 * Translates anything the SDK (or the fetch beneath it) throws into an LlmError.
 * Exported for the unit tests that pin the mapping of every SDK error class.
 */
export const toLlmError = (
  error: unknown,
  provider: string,
  cutoff: Cutoff,
  now: number,
  timeoutMs?: number,
): LlmError => {
  const options = { provider, cause: error };
  const within = timeoutMs === undefined ? 'in time' : `within ${timeoutMs} ms`;
  if (cutoff === 'timeout') return new LlmTimeoutError(`${provider} did not answer ${within}`, options);
  if (cutoff === 'caller' || error instanceof OpenAI.APIUserAbortError) {
    return new LlmAbortedError(`the call to ${provider} was aborted`, options);
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmTimeoutError(`${provider} did not answer ${within}`, options);
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new LlmUnavailableError(`could not reach ${provider}`, {
      ...options,
      code: 'llm_connection_failed',
    });
  }
  if (error instanceof OpenAI.RateLimitError) {
    // An exhausted account quota is not a rate limit: waiting does not help, and it is not the caller's doing.
    if (error.code === 'insufficient_quota') {
      return new LlmUnavailableError(
        `${provider} refused the call: the upstream account's quota is exhausted`,
        {
          ...options,
          code: 'llm_upstream_quota_exhausted',
          retryable: false,
        },
      );
    }
    return new LlmRateLimitedError(`${provider} is rate limiting requests`, {
      ...options,
      retryAfterMs: parseRetryAfter(error.headers, now),
    });
  }
  if (error instanceof OpenAI.BadRequestError || error instanceof OpenAI.UnprocessableEntityError) {
    const upstream = (error.error as { message?: unknown } | undefined)?.message;
    const message = typeof upstream === 'string' ? upstream : error.message;
    if (error.code === 'context_length_exceeded') {
      return new LlmContextTooLongError(`the conversation is too long for the model: ${message}`, options);
    }
    return new LlmBadRequestError(`${provider} refused the request: ${message}`, {
      ...options,
      ...(error.param ? { param: error.param } : {}),
    });
  }
  // Our credentials or our account, never the caller's: a 502 and not a 401/403 (the caller's key is fine).
  if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError) {
    return new LlmUnavailableError(`${provider} refused our credentials`, {
      ...options,
      code: 'llm_upstream_auth_failed',
      retryable: false,
    });
  }
  if (error instanceof OpenAI.NotFoundError) {
    return new LlmUnavailableError(`${provider} does not serve the requested model or route`, {
      ...options,
      code: 'llm_upstream_not_found',
      retryable: false,
    });
  }
  if (error instanceof OpenAI.InternalServerError) {
    return new LlmUnavailableError(`${provider} failed (HTTP ${error.status})`, options);
  }
  if (error instanceof OpenAI.APIError) {
    // Other statuses (409, 408...), or an error event in the middle of a stream (no status).
    return new LlmUnavailableError(
      `${provider} failed${error.status ? ` (HTTP ${error.status})` : ''}`,
      options,
    );
  }
  // Fetch's "terminated" when the socket dies mid-body, malformed SSE JSON, and the like.
  return new LlmUnavailableError(`the connection to ${provider} broke off`, {
    ...options,
    code: 'llm_stream_interrupted',
  });
};

/**
 * LlmClient on an `OpenAI` instance. Give it an instance built with `maxRetries: OPENAI_SDK_MAX_RETRIES`
 * (0; each call passes it too): retries belong to RetryingLlmClient (LLM_CALL), which honours Retry-After
 * and the deadline, so the SDK's own would multiply them.
 *
 * @example
 * const openai = new OpenAI({ apiKey, baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0 });
 * const llm = new OpenAiLlmClient(openai, { provider: 'openai', timeoutMs: 30_000 });
 * const answer = await llm.complete(request, { deadlineMs: Date.now() + context.getRemainingTimeInMillis() });
 */
export class OpenAiLlmClient implements LlmClient {
  private readonly provider: string;
  private readonly timeoutMs: number;
  private readonly safetyMarginMs: number;
  private readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';
  private readonly now: () => number;

  constructor(
    private readonly openai: OpenAI,
    options: OpenAiLlmClientOptions = {},
  ) {
    this.provider = options.provider ?? 'openai';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.safetyMarginMs = options.safetyMarginMs ?? 250;
    this.maxTokensField = options.maxTokensField ?? 'max_tokens';
    this.now = options.now ?? Date.now;
  }

  private params(request: ChatRequest): SdkParams {
    const params: SdkParams = { model: request.model, messages: request.messages.map(toSdkMessage) };
    if (request.tools?.length) params.tools = request.tools;
    if (request.tool_choice !== undefined) params.tool_choice = request.tool_choice;
    if (request.max_tokens !== undefined) params[this.maxTokensField] = request.max_tokens;
    if (request.temperature !== undefined) params.temperature = request.temperature;
    if (request.user !== undefined) params.user = request.user;
    return params;
  }

  /**
   * One call's time limit and cancellation: min(configured timeout, deadline - now - margin), enforced by
   * our own timer too, because the SDK's timeout stops at the response headers and a stream can stall later.
   * A stream calls `touch` on every chunk: the timeout then counts from the last chunk, the deadline stays.
   */
  private startCall(options: LlmCallOptions) {
    const left = () =>
      options.deadlineMs === undefined
        ? Number.POSITIVE_INFINITY
        : options.deadlineMs - this.now() - this.safetyMarginMs;
    if (left() <= 0) {
      throw new LlmTimeoutError(`no time left before the deadline to call ${this.provider}`, {
        provider: this.provider,
        beforeCall: true,
      });
    }
    if (options.signal?.aborted)
      throw new LlmAbortedError(`the call to ${this.provider} was aborted`, { provider: this.provider });
    const limit = () => Math.max(1, Math.floor(Math.min(this.timeoutMs, left())));
    const timeout = limit();
    /** The limit the running timer was set to (what a timeout reports). */
    let current = timeout;
    const controller = new AbortController();
    let cutoff: Cutoff;
    const expire = () => {
      cutoff ??= 'timeout';
      controller.abort();
    };
    let timer = setTimeout(expire, timeout);
    const onCallerAbort = () => {
      cutoff ??= 'caller';
      controller.abort();
    };
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    return {
      requestOptions: { timeout, maxRetries: OPENAI_SDK_MAX_RETRIES, signal: controller.signal },
      cutoff: () => cutoff,
      touch: () => {
        if (cutoff) return;
        clearTimeout(timer);
        current = limit();
        timer = setTimeout(expire, current);
      },
      end: () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onCallerAbort);
      },
      fail: (error: unknown) => toLlmError(error, this.provider, cutoff, this.now(), current),
    };
  }

  private toUsage(usage: OpenAiChatCompletion['usage'] | null | undefined): Usage | undefined {
    if (!usage) return undefined;
    return {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.total_tokens,
    };
  }

  async complete(request: ChatRequest, options: LlmCallOptions = {}): Promise<ChatCompletion> {
    const call = this.startCall(options);
    let response: OpenAiChatCompletion;
    try {
      response = await this.openai.chat.completions.create(
        { ...this.params(request), stream: false },
        call.requestOptions,
      );
    } catch (error) {
      throw call.fail(error);
    } finally {
      call.end();
    }
    const choice = response.choices[0];
    if (!choice) {
      throw new LlmUnavailableError(`${this.provider} answered without a choice`, {
        provider: this.provider,
      });
    }
    const toolCalls: ToolCall[] = (choice.message.tool_calls ?? []).flatMap((toolCall) =>
      toolCall.type === 'function'
        ? [
            {
              id: toolCall.id,
              type: 'function' as const,
              function: { name: toolCall.function.name, arguments: toolCall.function.arguments },
            },
          ]
        : [],
    );
    const content = choice.message.content ?? choice.message.refusal ?? null;
    const usage = this.toUsage(response.usage);
    const completion: ChatCompletion = {
      id: response.id,
      created: response.created,
      provider: this.provider,
      model: response.model || request.model,
      degraded: false,
      message: { role: 'assistant', content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
      finish_reason: FINISH_REASONS[choice.finish_reason] ?? 'stop',
      usage: usage ?? this.estimateUsage(request, content ?? '', toolCalls),
    };
    if (!usage) completion.usage_estimated = true;
    return completion;
  }

  private estimateUsage(request: ChatRequest, text: string, calls: readonly ToolCall[]): Usage {
    const prompt = estimatePromptTokens(request);
    const completion =
      estimateTextTokens(text) +
      calls.reduce(
        (sum, c) => sum + estimateTextTokens(c.function.name) + estimateTextTokens(c.function.arguments),
        0,
      );
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  }

  async *stream(request: ChatRequest, options: LlmCallOptions = {}): AsyncGenerator<ChatDelta> {
    const call = this.startCall(options);
    let id = '';
    let model = request.model;
    let finishReason: FinishReason | undefined;
    let usage: Usage | undefined;
    let text = '';
    const calls: ToolCall[] = [];
    try {
      let chunks: AsyncIterable<ChatCompletionChunk>;
      try {
        chunks = await this.openai.chat.completions.create(
          { ...this.params(request), stream: true, stream_options: { include_usage: true } },
          call.requestOptions,
        );
      } catch (error) {
        throw call.fail(error);
      }
      try {
        for await (const chunk of chunks) {
          call.touch();
          id ||= chunk.id;
          model = chunk.model || model;
          usage = this.toUsage(chunk.usage) ?? usage;
          const choice = chunk.choices[0];
          if (!choice) continue;
          const content = choice.delta.content ?? choice.delta.refusal;
          if (content) {
            text += content;
            yield { type: 'text', text: content };
          }
          for (const fragment of choice.delta.tool_calls ?? []) {
            const known = calls[fragment.index];
            const entry = known ?? {
              id: '',
              type: 'function' as const,
              function: { name: '', arguments: '' },
            };
            if (!known) calls[fragment.index] = entry;
            if (fragment.id) entry.id = fragment.id;
            if (fragment.function?.name) entry.function.name += fragment.function.name;
            if (fragment.function?.arguments) entry.function.arguments += fragment.function.arguments;
            yield {
              type: 'tool_call',
              index: fragment.index,
              ...(fragment.id ? { id: fragment.id } : {}),
              ...(fragment.function?.name ? { name: fragment.function.name } : {}),
              ...(fragment.function?.arguments ? { arguments: fragment.function.arguments } : {}),
            };
          }
          if (choice.finish_reason) finishReason = FINISH_REASONS[choice.finish_reason] ?? 'stop';
          // The time our consumer took with this chunk's deltas is not the provider's pause.
          call.touch();
        }
      } catch (error) {
        throw call.fail(error);
      }
      // The SDK ends a stream quietly when its request is aborted: our cut-off says why it ended.
      const cutoff = call.cutoff();
      if (cutoff) throw call.fail(new Error(`stream stopped: ${cutoff}`));
      if (!finishReason) {
        throw new LlmUnavailableError(
          `the stream from ${this.provider} ended before the answer was complete`,
          {
            provider: this.provider,
            code: 'llm_stream_truncated',
          },
        );
      }
      yield {
        type: 'finish',
        id,
        finish_reason: finishReason,
        usage: usage ?? this.estimateUsage(request, text, calls.filter(Boolean)),
        provider: this.provider,
        model,
        degraded: false,
        ...(usage ? {} : { usage_estimated: true }),
      };
    } finally {
      call.end();
    }
  }
}
