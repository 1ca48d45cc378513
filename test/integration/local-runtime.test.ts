// Integration: the local Lambda runtime gives each function its own environment, enforces the catalogue
// timeout by discarding the environment, and reports errors the way Lambda does.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { invokeOnce } from '../../local/invoke';
import type { InvocationReport, InvokeResult } from '../../local/lambda-runtime';
import { localBucketName } from '../../local/provision';
import { buildFixtureModel } from '../helpers/fixture-model';
import { type FixturePlatform, startFixturePlatform } from '../helpers/fixture-platform';

interface Probe {
  env: Record<string, string | null>;
  context: { functionName: string; remainingMs: number; memoryLimitInMB: string };
  heap: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number };
}

const payload = <T>(result: InvokeResult): T => {
  if (!result.ok) throw new Error(`${result.error.errorType}: ${result.error.errorMessage}`);
  return result.payload as T;
};

describe('local Lambda runtime', () => {
  let fixture: FixturePlatform;

  beforeAll(async () => {
    fixture = await startFixturePlatform({ maxEnvironmentsPerFunction: 2 });
  });
  afterAll(() => fixture.stop());

  it('gives each function only its own variables, with references resolved to local resources', async () => {
    const { runtime } = fixture.platform;
    const [echo, other] = await Promise.all([
      runtime.invoke('echo', { probe: true }).then(payload<Probe>),
      runtime.invoke('other', { probe: true }).then(payload<Probe>),
    ]);
    const model = fixture.model;

    expect(echo.env.FIXTURE_NAME).toBe('echo');
    expect(other.env.FIXTURE_NAME).toBe('other');
    expect(other.env.OTHER_ONLY).toBe('only-in-other');
    expect(echo.env.OTHER_ONLY).toBeNull();
    expect(echo.env.FIXTURE_TABLE).toBe(model.tables[0]!.name);
    expect(echo.env.FIXTURE_BUCKET).toBe(localBucketName(model.buckets[0]!.name));
    expect(echo.env.FIXTURE_QUEUE_URL).toBe(
      `${fixture.platform.endpoints.sqs}/000000000000/${model.queues[0]!.name}`,
    );
    expect(echo.env.FIXTURE_QUEUE_ARN).toMatch(new RegExp(`:${model.queues[0]!.name}$`));
    // The admin key replaces the secret's ARN, and only where the function may read it.
    expect(echo.env.ADMIN_API_KEY).toBe(fixture.platform.adminKey);
    expect(echo.env.ADMIN_KEY_SECRET_ARN).toBeNull();
    expect(other.env.ADMIN_API_KEY).toBeNull();
    expect(echo.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(fixture.platform.endpoints.dynamodb);
    // Nothing from the host's environment leaks in.
    expect(echo.env.HOME).toBeNull();
  });

  it("sizes each environment's heap from the function's memory, as Lambda's Node.js bootstrap does", async () => {
    const echo = payload<Probe>(await fixture.platform.runtime.invoke('echo', { probe: true }));
    const memoryMb = Number(echo.context.memoryLimitInMB);
    // The bootstrap: a tenth of the memory is new space (--max-semi-space-size half of it), the rest old
    // space; V8 counts a young generation as three semi-spaces.
    const newSpaceMb = Math.floor(memoryMb / 10);
    expect(echo.heap.maxOldGenerationSizeMb).toBe(memoryMb - newSpaceMb);
    expect(echo.heap.maxYoungGenerationSizeMb).toBe(3 * Math.floor(newSpaceMb / 2));
  });

  it('reports each finished invocation with the AWS requests its SDK clients counted', async () => {
    const reports: InvocationReport[] = [];
    const own = await startFixturePlatform({ onInvoked: (report) => reports.push(report) });
    try {
      expect(payload(await own.platform.runtime.invoke('echo', { dynamoReads: 3 }))).toEqual({ read: 3 });
      expect(payload(await own.platform.runtime.invoke('echo', { dynamoReads: 1 }))).toEqual({ read: 1 });
      await own.platform.runtime.invoke('echo', { rawPath: '/boom' });
    } finally {
      await own.stop();
    }

    expect(
      reports.map((report) => [report.functionId, report.ok, report.awsRequests.dynamodb?.operations]),
    ).toEqual([
      ['echo', true, { GetItem: 3 }],
      ['echo', true, { GetItem: 1 }],
      ['echo', false, undefined],
    ]);
    expect(reports[2]?.errorType).toBe('TypeError');
    expect(reports[0]?.coldStart).toBe(true);
    expect(reports[1]?.coldStart).toBe(false);
    expect(reports[0]?.awsRequests.dynamodb?.ms).toBeGreaterThan(0);
    expect(reports[0]?.durationMs).toBeGreaterThanOrEqual(reports[0]?.awsRequests.dynamodb?.ms ?? 0);
  });

  it('times out at the catalogue timeout and starts a fresh environment afterwards', async () => {
    const { runtime } = fixture.platform;
    await runtime.invoke('slow', { sleepMs: 0 });
    const warm = payload<{ invocations: number }>(await runtime.invoke('slow', { sleepMs: 0 }));

    const timedOut = await runtime.invoke('slow', { sleepMs: 5_000 });
    const after = await runtime.invoke('slow', { sleepMs: 0 });

    expect(warm.invocations).toBe(2);
    expect(timedOut.ok).toBe(false);
    expect(!timedOut.ok && timedOut.error.errorType).toBe('Sandbox.Timedout');
    expect(!timedOut.ok && timedOut.error.errorMessage).toContain('Task timed out after 1.00 seconds');
    expect(after.coldStart).toBe(true);
    expect(payload<{ invocations: number }>(after).invocations).toBe(1);
  });

  it('reports a handler error as errorType and errorMessage, and logs it tagged', async () => {
    const result = await fixture.platform.runtime.invoke('echo', { rawPath: '/boom' });

    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.errorType).toBe('TypeError');
    expect(!result.ok && result.error.errorMessage).toBe('boom from the fixture');
    expect(fixture.logs.some((line) => line.startsWith('[echo] ERROR\tInvoke Error'))).toBe(true);
  });

  it('reports an import-time failure as the cold start error', async () => {
    const result = await fixture.platform.runtime.invoke('broken-init', {});

    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.errorMessage).toContain('missing environment variable(s): NOPE');
  });

  it('runs one invocation per environment and grows the pool up to its cap', async () => {
    const { runtime } = fixture.platform;

    const results = await Promise.all([0, 1, 2].map(() => runtime.invoke('other', { probe: true })));

    expect(results.every((result) => result.ok)).toBe(true);
    const stats = runtime.stats().find((entry) => entry.functionId === 'other');
    expect(stats?.environments).toBe(2);
  });

  it('answers an unknown function like Lambda does', async () => {
    const result = await fixture.platform.runtime.invoke('nope', {});

    expect(!result.ok && result.error.errorType).toBe('ResourceNotFoundException');
  });
});

describe('invokeOnce (npm run invoke)', () => {
  it('provisions, runs one function with an event against given emulators and returns its result', async () => {
    const model = buildFixtureModel();

    const { result } = await invokeOnce({
      model,
      functionId: 'echo',
      event: { probe: true, sample: 1 },
      dataDir: '/nonexistent-tenantic-data',
      endpoints: inject('emulators'),
    });

    const echoed = payload<Probe & { event: unknown }>(result);
    expect(echoed.event).toEqual({ probe: true, sample: 1 });
    expect(echoed.env.FIXTURE_TABLE).toBe(model.tables[0]!.name);
  });

  it('rejects an unknown function id, naming the known ones', async () => {
    const attempt = invokeOnce({
      model: buildFixtureModel(),
      functionId: 'missing',
      event: {},
      dataDir: '/nonexistent-tenantic-data',
      endpoints: inject('emulators'),
    });

    await expect(attempt).rejects.toThrow(/unknown function 'missing'.*echo/);
  });
});
