// Unit tests: PlatformMetrics on Powertools Metrics: the EMF records on stdout match the catalogue that the
// CDK alarms read (namespace, names, units, dimension sets), and a tenant id is a property, never a dimension.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PlatformMetrics } from '../../../functions/core/ports/platform-metrics';
import { PowertoolsPlatformMetrics } from '../../../functions/observability/powertools-metrics';
import { METRICS, METRICS_NAMESPACE, type MetricKey } from '../../../functions/platform/metrics';

interface EmfRecord {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** Runs `act` with stdout captured; returns the EMF records it printed. */
const emitted = (act: (metrics: PlatformMetrics) => void): EmfRecord[] => {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    act(
      new PowertoolsPlatformMetrics({
        stage: 'dev',
        service: 'chat-worker',
        onError: (error) => lines.push(`ERR ${error}`),
      }),
    );
  } finally {
    write.mockRestore();
  }
  return lines.map((line) => JSON.parse(line) as EmfRecord);
};

const sorted = (sets: readonly (readonly string[])[]) => sets.map((set) => [...set].sort().join(',')).sort();

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every event, with the catalogue metrics it must carry and its per-event dimensions. */
const EVENTS: [string, (metrics: PlatformMetrics) => void, MetricKey[], Record<string, string>][] = [
  [
    'a degraded streamed answer',
    (m) =>
      m.llmAnswered({
        tenantId: 'ten_secret_1',
        model: 'gpt-4o-mini',
        provider: 'openai',
        degraded: true,
        promptTokens: 120,
        completionTokens: 30,
        latencyMs: 840,
        timeToFirstTokenMs: 210,
      }),
    ['llmAnswers', 'degradedAnswers', 'promptTokens', 'completionTokens', 'llmLatency', 'timeToFirstToken'],
    { model: 'gpt-4o-mini', provider: 'openai' },
  ],
  [
    'a fallback taken',
    (m) => m.fallbackTaken({ tenantId: 'ten_secret_1', model: 'gpt-4o', provider: 'openai' }),
    ['fallbacksTaken'],
    { model: 'gpt-4o', provider: 'openai' },
  ],
  [
    'a breaker opening',
    (m) => m.breakerChanged({ provider: 'mistral', model: 'small', state: 'open' }),
    ['breakerTransitions'],
    { provider: 'mistral', state: 'open' },
  ],
  [
    'a quota refusal',
    (m) => m.quotaRefused({ tenantId: 'ten_secret_1', kind: 'requests_per_minute' }),
    ['quotaRefusals'],
    { kind: 'requests_per_minute' },
  ],
  [
    'a dead-letter move',
    (m) => m.deadLettered({ tenantId: 'ten_secret_1', queue: 'chat-runs' }),
    ['deadLetterMoves'],
    { queue: 'chat-runs' },
  ],
  [
    'a run finished',
    (m) => m.runFinished({ tenantId: 'ten_secret_1', status: 'failed' }),
    ['runsFinished'],
    { status: 'failed' },
  ],
  [
    "a run's frames",
    (m) => m.framesPosted({ tenantId: 'ten_secret_1', count: 7 }),
    ['streamFramesPosted'],
    {},
  ],
];

describe('PowertoolsPlatformMetrics', () => {
  it.each(EVENTS)(
    '%s: one EMF record in namespace Tenantic, with the catalogue names, units and dimension sets',
    (_, act, keys, dimensions) => {
      const records = emitted(act);

      expect(records).toHaveLength(1);
      const [record] = records as [EmfRecord];
      const [directive] = record._aws.CloudWatchMetrics;
      expect(directive?.Namespace).toBe(METRICS_NAMESPACE);
      expect(directive?.Metrics).toEqual(
        keys.map((key) => ({ Name: METRICS[key].name, Unit: METRICS[key].unit })),
      );
      expect(sorted(directive?.Dimensions ?? [])).toEqual(sorted(METRICS[keys[0]!].dimensionSets));
      expect(record).toMatchObject({ stage: 'dev', service: 'chat-worker', ...dimensions });
    },
  );

  it.each(EVENTS)('%s: the tenant id is a property of the record, in no dimension set', (_, act) => {
    const [record] = emitted(act) as [EmfRecord];
    const dimensionNames = record._aws.CloudWatchMetrics.flatMap((directive) => directive.Dimensions.flat());

    expect(dimensionNames).not.toContain('tenant_id');
    expect(
      dimensionNames.every((name) =>
        ['stage', 'service', 'model', 'provider', 'kind', 'status', 'state', 'queue'].includes(name),
      ),
    ).toBe(true);
    if (record.BreakerTransitions === undefined) expect(record.tenant_id).toBe('ten_secret_1');
  });

  it('carries the values: tokens and latencies as measured, a count of 1 per event, frames as counted', () => {
    const [answer, frames] = emitted((m) => {
      m.llmAnswered({
        model: 'm',
        provider: 'p',
        degraded: false,
        promptTokens: 5,
        completionTokens: 2,
        latencyMs: 99,
      });
      m.framesPosted({ count: 7 });
    }) as [EmfRecord, EmfRecord];

    expect(answer).toMatchObject({ LlmAnswers: 1, PromptTokens: 5, CompletionTokens: 2, LlmLatency: 99 });
    // Not degraded, not streamed: those metrics are absent rather than 0 (an alarm's rate stays honest).
    expect(answer).not.toHaveProperty('DegradedAnswers');
    expect(answer).not.toHaveProperty('LlmTimeToFirstToken');
    expect(frames).toMatchObject({ StreamFramesPosted: 7 });
  });

  it('prints nothing for a run that posted no frame', () => {
    expect(emitted((m) => m.framesPosted({ count: 0 }))).toEqual([]);
  });

  it("keeps one event's dimensions out of the next record", () => {
    const [, refusal] = emitted((m) => {
      m.breakerChanged({ provider: 'openai', state: 'half_open' });
      m.quotaRefused({ kind: 'tokens_per_month' });
    }) as [EmfRecord, EmfRecord];

    expect(refusal).not.toHaveProperty('provider');
    expect(refusal).not.toHaveProperty('state');
    expect(refusal._aws.CloudWatchMetrics[0]?.Dimensions.flat()).not.toContain('state');
  });
});
