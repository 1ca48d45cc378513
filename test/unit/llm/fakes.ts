// Test fakes for the LLM layer: a scripted LlmClient and a manual clock whose sleeps advance time at once.
import { completionToDeltas } from '../../../functions/core/llm/deltas';
import type { Timing } from '../../../functions/core/llm/timing';
import type {
  ChatCompletion,
  ChatDelta,
  ChatRequest,
  LlmCallOptions,
} from '../../../functions/core/llm/types';
import type { LlmClient } from '../../../functions/core/ports/llm-client';

/** One scripted outcome: an answer, an error thrown before anything is streamed, or an error mid-stream. */
export type Step =
  | { answer: string }
  | { error: unknown }
  | { answer: string; failAfterDeltas: number; error: unknown };

export const completionOf = (text: string, provider = 'fake', model = 'fake-model'): ChatCompletion => ({
  id: `chatcmpl-${text.length}`,
  created: 1_700_000_000,
  provider,
  model,
  degraded: false,
  message: { role: 'assistant', content: text },
  finish_reason: 'stop',
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});

/** Plays `steps` in order, one per call (complete or stream); records every request it was given. */
export class ScriptedLlmClient implements LlmClient {
  readonly calls: { request: ChatRequest; options: LlmCallOptions | undefined }[] = [];
  constructor(
    private readonly steps: Step[],
    private readonly provider = 'fake',
  ) {}

  private next(request: ChatRequest, options: LlmCallOptions | undefined): Step {
    this.calls.push({ request, options });
    const step = this.steps.shift();
    if (!step) throw new Error('ScriptedLlmClient: no step left');
    return step;
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    const step = this.next(request, options);
    if ('error' in step) throw step.error;
    return completionOf(step.answer, this.provider, request.model);
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    const step = this.next(request, options);
    if ('error' in step && !('failAfterDeltas' in step)) throw step.error;
    let sent = 0;
    for (const delta of completionToDeltas(completionOf(step.answer, this.provider, request.model))) {
      if ('failAfterDeltas' in step && sent === step.failAfterDeltas) throw step.error;
      yield delta;
      sent += 1;
    }
  }
}

/** A clock that only moves when a sleep asks it to; records every sleep. */
export const manualTiming = (start = 1_000_000, random = () => 0.5) => {
  const sleeps: number[] = [];
  let now = start;
  const timing: Timing = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random,
  };
  return {
    timing,
    sleeps,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
};

export const request = (content = 'hello', extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  ...extra,
});

export const drain = async <T>(iterable: AsyncIterable<T>): Promise<T[]> => {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
};

/** A call the test settles when it chooses, to reproduce interleavings of concurrent calls. */
export interface PendingCall {
  request: ChatRequest;
  succeed: (text?: string) => void;
  fail: (error: unknown) => void;
}

/** Every `complete` stays pending until the test settles it through `pending`. */
export class DeferredLlmClient implements LlmClient {
  readonly pending: PendingCall[] = [];

  complete(request: ChatRequest): Promise<ChatCompletion> {
    return new Promise((resolve, reject) => {
      this.pending.push({
        request,
        succeed: (text = 'ok') => resolve(completionOf(text, 'fake', request.model)),
        fail: reject,
      });
    });
  }

  // biome-ignore lint/correctness/useYield: streams are not used by the tests of interleavings.
  async *stream(): AsyncGenerator<ChatDelta> {
    throw new Error('DeferredLlmClient: stream is not scripted');
  }
}
