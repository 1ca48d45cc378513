// Unit tests: X-Ray tracing: each LLM call is a subsegment with the OpenTelemetry GenAI attributes; with
// tracing off (tests, the local platform) nothing is wrapped or sent.

import type { Tracer } from '@aws-lambda-powertools/tracer';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { collectStream } from '../../../functions/core/llm/deltas';
import { LlmUnavailableError } from '../../../functions/core/llm/errors';
import { TracedLlmClient } from '../../../functions/observability/traced-llm-client';
import { tracer } from '../../../functions/observability/tracer';
import { resolveFunctionEnv } from '../../../local/function-env';
import { request, ScriptedLlmClient } from '../llm/fakes';

interface FakeSubsegment {
  name: string;
  annotations: Record<string, unknown>;
  metadata: Record<string, Record<string, unknown>>;
  errors: unknown[];
  closed: boolean;
}

/** A Tracer whose segment records the subsegments opened on it. */
const recordingTracer = () => {
  const subsegments: FakeSubsegment[] = [];
  const segment = {
    addNewSubsegment: (name: string) => {
      const sub: FakeSubsegment = { name, annotations: {}, metadata: {}, errors: [], closed: false };
      subsegments.push(sub);
      return {
        addAnnotation: (key: string, value: unknown) => {
          sub.annotations[key] = value;
        },
        addMetadata: (key: string, value: unknown, namespace = 'default') => {
          sub.metadata[namespace] = { ...sub.metadata[namespace], [key]: value };
        },
        addError: (error: unknown) => sub.errors.push(error),
        close: () => {
          sub.closed = true;
        },
      };
    },
  };
  const fake = { isTracingEnabled: () => true, getSegment: () => segment } as unknown as Tracer;
  return { tracer: fake, subsegments };
};

describe('TracedLlmClient', () => {
  it('records a call as a closed `chat <model>` subsegment with gen_ai.* metadata and annotations', async () => {
    const { tracer: fake, subsegments } = recordingTracer();
    const client = new TracedLlmClient(
      new ScriptedLlmClient([{ answer: 'hello' }], 'openai'),
      'openai',
      fake,
    );

    const answer = await client.complete(request('hi', { model: 'gpt-4o-mini', max_tokens: 50 }));

    expect(subsegments).toHaveLength(1);
    const [sub] = subsegments as [FakeSubsegment];
    expect(sub.name).toBe('chat gpt-4o-mini');
    expect(sub.closed).toBe(true);
    expect(sub.metadata.gen_ai).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 50,
      'gen_ai.response.model': answer.model,
      'gen_ai.usage.input_tokens': answer.usage.prompt_tokens,
      'gen_ai.usage.output_tokens': answer.usage.completion_tokens,
    });
    expect(sub.annotations).toMatchObject({
      gen_ai_request_model: 'gpt-4o-mini',
      gen_ai_usage_input_tokens: answer.usage.prompt_tokens,
      gen_ai_usage_output_tokens: answer.usage.completion_tokens,
    });
    expect(Object.keys(sub.annotations).every((key) => /^[A-Za-z0-9_]+$/.test(key))).toBe(true);
  });

  it("records a stream's usage from its finish chunk, and a failed call's error, closing both", async () => {
    const { tracer: fake, subsegments } = recordingTracer();
    const failure = new LlmUnavailableError('down', { provider: 'openai' });
    const client = new TracedLlmClient(
      new ScriptedLlmClient([{ answer: 'streamed' }, { error: failure }], 'openai'),
      'openai',
      fake,
    );

    const streamed = await collectStream(client.stream(request('hi', { model: 'gpt-4o' })));
    await expect(client.complete(request('again', { model: 'gpt-4o' }))).rejects.toBe(failure);

    const [stream, failed] = subsegments as [FakeSubsegment, FakeSubsegment];
    expect(stream.metadata.gen_ai?.['gen_ai.usage.output_tokens']).toBe(streamed.usage.completion_tokens);
    expect(failed.errors).toEqual([failure]);
    expect([stream.closed, failed.closed]).toEqual([true, true]);
  });
});

describe('tracing off', () => {
  it('outside Lambda, leaves SDK clients untouched and opens no subsegment', async () => {
    const client = new SQSClient({ region: 'us-east-1' });
    const before = client.middlewareStack.identify();

    expect(tracer().isTracingEnabled()).toBe(false);
    expect(tracer().captureAWSv3Client(client)).toBe(client);
    expect(client.middlewareStack.identify()).toEqual(before);
    const traced = new TracedLlmClient(
      new ScriptedLlmClient([{ answer: 'ok' }], 'openai'),
      'openai',
      tracer(),
    );
    await expect(traced.complete(request('hi'))).resolves.toMatchObject({ provider: 'openai' });
  });

  it('is switched off by the local platform, which has no X-Ray daemon, though it sets AWS_EXECUTION_ENV', () => {
    const env = resolveFunctionEnv({ id: 'chat-api', memoryMb: 512, environment: {} } as never, {
      stage: 'dev',
      resources: { tables: new Map(), queues: new Map(), buckets: new Map() } as never,
      adminKey: 'k',
      wsManagementEndpoint: 'http://127.0.0.1:1',
      emulatorEnv: {},
    });

    expect(env.AWS_EXECUTION_ENV).toBeDefined();
    expect(env.POWERTOOLS_TRACE_ENABLED).toBe('false');
  });
});
