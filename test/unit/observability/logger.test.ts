// Unit tests: the logger our call sites use, on Powertools Logger: JSON lines, bound keys, sampling.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../functions/observability/logger';

const capture = () => {
  const lines: Record<string, unknown>[] = [];
  return { lines, sink: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
};

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createLogger (Powertools Logger)', () => {
  it("writes one JSON line per call, with the child's correlation ids and the function's service", () => {
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'chat-api');
    const { lines, sink } = capture();
    const log = createLogger({ service: 'chat-worker' }, { sink })
      .child({ request_id: 'req-1', tenant_id: 'ten_1' })
      .child({ run_id: 'run_1', connection_id: undefined });

    log.error('run failed', { error: new Error('upstream down'), step: 2 });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      message: 'run failed',
      service: 'chat-api',
      component: 'chat-worker',
      request_id: 'req-1',
      tenant_id: 'ten_1',
      run_id: 'run_1',
      step: 2,
      error: { name: 'Error', message: 'upstream down' },
    });
    expect(lines[0]).not.toHaveProperty('connection_id');
    expect(typeof lines[0]?.timestamp).toBe('string');
  });

  it('keeps a child from changing its parent', () => {
    const { lines, sink } = capture();
    const parent = createLogger({}, { sink });
    parent.child({ tenant_id: 'ten_1' }).info('child');
    parent.info('parent');
    expect(lines[1]).not.toHaveProperty('tenant_id');
  });

  it('draws the sampling once per invocation, not once per child', () => {
    vi.stubEnv('POWERTOOLS_LOGGER_SAMPLE_RATE', '0.5');
    const { lines, sink } = capture();
    const root = createLogger({}, { level: 'info', sink });
    const sampledAtStart = lines.length > 0;

    const debugLines = () => lines.filter((line) => line.message === 'probe').length;
    for (let i = 0; i < 50; i += 1) root.child({ i }).child({ j: i }).debug('probe');
    // Without a new invocation every child logs at the level drawn at cold start: all or none.
    expect(debugLines()).toBe(sampledAtStart ? 50 : 0);

    let invocationsSampled = 0;
    for (let i = 0; i < 200; i += 1) {
      root.newInvocation?.();
      const before = debugLines();
      root.child({ i }).debug('probe');
      if (debugLines() > before) invocationsSampled += 1;
    }
    // About half of the invocations, drawn afresh each time (a binomial(200, 0.51) is inside this band).
    expect(invocationsSampled).toBeGreaterThan(60);
    expect(invocationsSampled).toBeLessThan(140);
  });

  it('drops lines below its level, unless the invocation is sampled (POWERTOOLS_LOGGER_SAMPLE_RATE)', () => {
    const quiet = capture();
    createLogger({}, { level: 'info', sink: quiet.sink }).debug('hidden');
    expect(quiet.lines).toEqual([]);

    vi.stubEnv('POWERTOOLS_LOGGER_SAMPLE_RATE', '1');
    const sampled = capture();
    createLogger({}, { level: 'info', sink: sampled.sink }).child({ request_id: 'r' }).debug('shown');
    expect(sampled.lines.some((line) => line.message === 'shown' && line.sampling_rate === 1)).toBe(true);
  });
});
