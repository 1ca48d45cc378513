// Observability: an LlmClient decorator that records each call to a provider as an X-Ray subsegment
// (`chat <model>`), carrying the OpenTelemetry GenAI attributes: as metadata under their own names
// (`gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...), and as annotations, which X-Ray can filter
// on, with the dots as underscores (annotation keys allow letters, digits and underscores only). With
// tracing off (tests, the local platform) it calls straight through.
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { ChatCompletion, ChatDelta, ChatRequest, FinishDelta, LlmCallOptions } from '../core/llm/types';
import type { LlmClient } from '../core/ports/llm-client';

type Subsegment = ReturnType<Tracer['getSegment']> & {};

/** Metadata namespace of the attributes. */
const NAMESPACE = 'gen_ai';

/** The GenAI attributes known before the call. */
const requestAttributes = (provider: string, request: ChatRequest): Record<string, string | number> => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': provider,
  'gen_ai.request.model': request.model,
  ...(request.max_tokens !== undefined && { 'gen_ai.request.max_tokens': request.max_tokens }),
  ...(request.temperature !== undefined && { 'gen_ai.request.temperature': request.temperature }),
});

/** The GenAI attributes of the answer. */
const responseAttributes = (answer: ChatCompletion | FinishDelta): Record<string, string | number> => ({
  'gen_ai.response.id': answer.id,
  'gen_ai.response.model': answer.model,
  'gen_ai.response.finish_reasons': answer.finish_reason,
  'gen_ai.usage.input_tokens': answer.usage.prompt_tokens,
  'gen_ai.usage.output_tokens': answer.usage.completion_tokens,
});

const record = (subsegment: Subsegment, attributes: Record<string, string | number>): void => {
  for (const [key, value] of Object.entries(attributes)) {
    subsegment.addAnnotation(key.replaceAll('.', '_'), value);
    subsegment.addMetadata(key, value, NAMESPACE);
  }
};

/**
 * @example
 * const traced = new TracedLlmClient(new OpenAiLlmClient(openai, { provider: 'openai' }), 'openai', tracer());
 */
export class TracedLlmClient implements LlmClient {
  constructor(
    private readonly inner: LlmClient,
    private readonly provider: string,
    private readonly tracer: Tracer,
  ) {}

  /** A new subsegment of the current segment, or undefined when tracing is off or there is no segment. */
  private open(request: ChatRequest): Subsegment | undefined {
    if (!this.tracer.isTracingEnabled()) return undefined;
    const parent = this.tracer.getSegment();
    if (!parent) return undefined;
    const subsegment = parent.addNewSubsegment(`chat ${request.model}`);
    record(subsegment, requestAttributes(this.provider, request));
    return subsegment;
  }

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    const subsegment = this.open(request);
    if (!subsegment) return this.inner.complete(request, options);
    try {
      const completion = await this.inner.complete(request, options);
      record(subsegment, responseAttributes(completion));
      return completion;
    } catch (error) {
      subsegment.addError(error as Error);
      throw error;
    } finally {
      subsegment.close();
    }
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    const subsegment = this.open(request);
    if (!subsegment) {
      yield* this.inner.stream(request, options);
      return;
    }
    try {
      for await (const delta of this.inner.stream(request, options)) {
        if (delta.type === 'finish') record(subsegment, responseAttributes(delta));
        yield delta;
      }
    } catch (error) {
      subsegment.addError(error as Error);
      throw error;
    } finally {
      subsegment.close();
    }
  }
}
