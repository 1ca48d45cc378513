// Unit tests: where each counted event happens: the LLM chain (answers, fallbacks, breaker transitions),
// the run's final status, a quota's 429 and a message's last failure reach PlatformMetrics.
import middy from '@middy/core';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createJobRegistry, defineJob } from '../../../functions/core/jobs/registry';
import { ModelCatalogue } from '../../../functions/core/llm/catalogue';
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  countBreakerTransitions,
} from '../../../functions/core/llm/circuit-breaker';
import { collectStream } from '../../../functions/core/llm/deltas';
import { LlmUnavailableError } from '../../../functions/core/llm/errors';
import { MeteredLlmClient } from '../../../functions/core/llm/metered-llm-client';
import { ProviderRoutingLlmClient } from '../../../functions/core/llm/provider-router';
import type { LlmClient } from '../../../functions/core/ports/llm-client';
import type { PlatformMetrics } from '../../../functions/core/ports/platform-metrics';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';
import { createRun } from '../../../functions/core/sessions/create-run';
import { createSession } from '../../../functions/core/sessions/create-session';
import { updateRunStatus } from '../../../functions/core/sessions/update-run-status';
import { errorHandler } from '../../../functions/middleware/error-handler';
import { processJobBatch } from '../../../functions/middleware/sqs-batch';
import { wsContext } from '../../../functions/middleware/ws/ws-context';
import { sessionDeps } from '../../helpers/session-fakes';
import { sqsRecord } from '../../helpers/sqs-records';
import { manualTiming, request, ScriptedLlmClient } from '../llm/fakes';
import { capturingLogger } from '../ws/fakes';

type Call = [keyof PlatformMetrics, unknown];

/** A PlatformMetrics that keeps every call, in order. */
const recordingMetrics = () => {
  const calls: Call[] = [];
  const record =
    (name: keyof PlatformMetrics) =>
    (event: unknown): void => {
      calls.push([name, event]);
    };
  const metrics: PlatformMetrics = {
    llmAnswered: record('llmAnswered'),
    fallbackTaken: record('fallbackTaken'),
    breakerChanged: record('breakerChanged'),
    quotaRefused: record('quotaRefused'),
    deadLettered: record('deadLettered'),
    runFinished: record('runFinished'),
    framesPosted: record('framesPosted'),
  };
  return {
    metrics,
    calls,
    named: (name: keyof PlatformMetrics) => calls.filter(([n]) => n === name).map(([, e]) => e),
  };
};

const LIMITS = { contextTokens: 8_000, maxOutputTokens: 1_000 };

const router = (clients: Record<string, LlmClient>, metrics: PlatformMetrics) => {
  const { timing, advance } = manualTiming();
  const llm = new ProviderRoutingLlmClient({
    catalogue: new ModelCatalogue({
      alpha: { models: { 'alpha-large': { ...LIMITS, fallbacks: ['beta-chat'] } } },
      beta: { models: { 'beta-chat': LIMITS } },
    }),
    breakers: new CircuitBreakerRegistry({ failureThreshold: 5, now: timing.now }),
    timing,
    retry: { maxAttempts: 1 },
    connect: async (provider) => clients[provider],
    metrics,
  });
  return { llm, advance };
};

describe('LLM metrics', () => {
  it('counts a fallback against the model that failed, and the answer as degraded, by whoever gave it', async () => {
    const { metrics, named } = recordingMetrics();
    const alpha = new ScriptedLlmClient(
      [{ error: new LlmUnavailableError('alpha down', { provider: 'alpha' }) }],
      'alpha',
    );
    const beta = new ScriptedLlmClient([{ answer: 'beta answers' }], 'beta');
    const { llm } = router({ alpha, beta }, metrics);

    await llm.complete(request('hi', { model: 'alpha-large', user: 'ten_1' }));

    expect(named('fallbackTaken')).toEqual([{ tenantId: 'ten_1', model: 'alpha-large', provider: 'alpha' }]);
    expect(named('llmAnswered')).toEqual([
      expect.objectContaining({ tenantId: 'ten_1', model: 'beta-chat', provider: 'beta', degraded: true }),
    ]);
  });

  it("counts a streamed answer's tokens, its latency and its time to first token", async () => {
    const { metrics, named } = recordingMetrics();
    const alpha = new ScriptedLlmClient([{ answer: 'streamed words' }], 'alpha');
    const { llm } = router({ alpha }, metrics);

    const deltas = await collectStream(llm.stream(request('hi', { model: 'alpha-large', user: 'ten_1' })));

    const [answer] = named('llmAnswered') as {
      promptTokens: number;
      completionTokens: number;
      latencyMs: number;
      timeToFirstTokenMs?: number;
    }[];
    expect(answer).toMatchObject({ model: 'alpha-large', provider: 'alpha', degraded: false });
    expect(answer?.promptTokens).toBe(deltas.usage.prompt_tokens);
    expect(answer?.completionTokens).toBe(deltas.usage.completion_tokens);
    expect(answer?.timeToFirstTokenMs).toBeTypeOf('number');
    expect(answer?.latencyMs).toBeGreaterThanOrEqual(answer?.timeToFirstTokenMs ?? 0);
  });

  it('times the first token when it comes, not when the stream finishes', async () => {
    const { metrics, named } = recordingMetrics();
    const finish = {
      type: 'finish',
      id: 'c1',
      finish_reason: 'stop',
      provider: 'alpha',
      model: 'alpha-large',
      degraded: false,
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    } as const;
    let now = 0;
    const inner: LlmClient = {
      complete: () => Promise.reject(new Error('not used')),
      stream: async function* () {
        now = 100;
        yield { type: 'text', text: 'one' };
        now = 250;
        yield { type: 'text', text: 'two' };
        now = 600;
        yield finish;
      },
    };
    const llm = new MeteredLlmClient(inner, metrics, () => now);

    await collectStream(llm.stream(request('hi', { model: 'alpha-large' })));

    expect(named('llmAnswered')).toEqual([
      expect.objectContaining({
        timeToFirstTokenMs: 100,
        latencyMs: 600,
        promptTokens: 3,
        completionTokens: 2,
      }),
    ]);
  });

  it('counts each breaker transition with the state entered, by provider', () => {
    const { metrics, named } = recordingMetrics();
    let now = 0;
    const breaker = new CircuitBreaker('alpha', {
      model: 'alpha-large',
      failureThreshold: 1,
      cooldownMs: 1_000,
      now: () => now,
      onStateChange: countBreakerTransitions(metrics),
    });

    breaker.acquire().failure();
    now = 1_000;
    breaker.acquire().success();

    expect(named('breakerChanged')).toEqual([
      { provider: 'alpha', model: 'alpha-large', state: 'open' },
      { provider: 'alpha', model: 'alpha-large', state: 'half_open' },
      { provider: 'alpha', model: 'alpha-large', state: 'closed' },
    ]);
  });
});

describe('run, quota and queue metrics', () => {
  it("counts a run's final status once, and none of its intermediate ones", async () => {
    const { metrics, named } = recordingMetrics();
    const deps = { ...sessionDeps(), metrics };
    const tenant = {
      id: 'ten_1',
      name: 'Acme',
      plan: 'free',
      quota_overrides: {},
      models: null,
      tools: null,
      status: 'active',
    } as never;
    const session = await createSession(deps, tenant, {});
    const run = await createRun(deps, 'ten_1', session.id);

    await updateRunStatus(deps, 'ten_1', run.id, { status: 'in_progress' });
    await updateRunStatus(deps, 'ten_1', run.id, { status: 'failed' });

    expect(named('runFinished')).toEqual([{ tenantId: 'ten_1', status: 'failed' }]);
  });

  it("counts a quota's 429 by its kind, with the tenant as a property", async () => {
    const { metrics, named } = recordingMetrics();
    const handler = middy()
      .use(errorHandler({ metrics, logger: capturingLogger().logger }))
      .handler(async () => {
        throw new QuotaExceededError('tokens_per_month', { limit: 10, remaining: 0, resetsAt: null }, 0);
      });

    const response = (await handler({} as never, {} as never)) as { statusCode: number };

    expect(response.statusCode).toBe(429);
    expect(named('quotaRefused')).toEqual([{ kind: 'tokens_per_month', tenantId: undefined }]);
  });

  it("counts a WebSocket route's quota refusal with the connection's tenant", async () => {
    const { metrics, named } = recordingMetrics();
    const handler = middy()
      .use(wsContext({ metrics, logger: capturingLogger().logger }))
      .handler(async () => {
        throw new QuotaExceededError('concurrent_connections', { limit: 5, remaining: 0, resetsAt: null }, 0);
      });
    const event = {
      requestContext: {
        connectionId: 'c1',
        routeKey: '$connect',
        authorizer: { tenantId: 'ten_1', keyId: 'key_1' },
      },
    };

    const response = (await handler(event as never, {} as never)) as { statusCode: number };

    expect(response.statusCode).toBe(429);
    expect(named('quotaRefused')).toEqual([{ kind: 'concurrent_connections', tenantId: 'ten_1' }]);
  });

  it('counts a dead-letter move on the last delivery only, by queue, after the final-failure hook', async () => {
    const { metrics, calls } = recordingMetrics();
    const hook = vi.fn(async () => {
      calls.push(['hook' as keyof PlatformMetrics, undefined]);
    });
    const failing = defineJob(
      'test.fail',
      z.object({}),
      async () => {
        throw new Error('no');
      },
      { onFinalFailure: hook },
    );
    const body = JSON.stringify({ type: 'test.fail', tenant_id: 'ten_1', id: 'job_1', payload: {} });
    const retry = {
      visibility: { delay: async () => undefined },
      policy: { baseSeconds: 1, capSeconds: 10, maxReceiveCount: 3, visibilityTimeoutSeconds: 60 },
    };
    const deps = {
      registry: createJobRegistry([failing]),
      logger: capturingLogger().logger,
      retry,
      metrics,
      queue: 'chat-runs',
    };

    await processJobBatch([sqsRecord({ messageId: 'm1', body, receiveCount: 2, receiptHandle: 'rh' })], deps);
    const beforeLast = calls.length;
    const result = await processJobBatch(
      [sqsRecord({ messageId: 'm1', body, receiveCount: 3, receiptHandle: 'rh' })],
      deps,
    );

    expect(beforeLast).toBe(0);
    expect(calls).toEqual([
      ['hook', undefined],
      ['deadLettered', { queue: 'chat-runs', tenantId: 'ten_1' }],
    ]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
  });
});
