// Integration: every sample event in events/ runs through its real function on the local Lambda runtime
// (the path `npm run invoke` takes), against the emulators. Samples describe refusals too (unknown keys,
// bad frames, poison records), so the bar is the contract's: never a 5xx, never an unexpected crash.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

const EVENTS_DIR = path.resolve(import.meta.dirname, '..', '..', 'events');

const samples = readdirSync(EVENTS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((dir) =>
    readdirSync(path.join(EVENTS_DIR, dir.name))
      .filter((file) => file.endsWith('.json'))
      .map((file) => ({ functionId: dir.name, file, name: `${dir.name}/${file}` })),
  );

let platform: TestPlatform;

beforeAll(async () => {
  platform = await startTestPlatform();
}, 180_000);

afterAll(async () => {
  await platform?.stop();
});

describe('sample events', () => {
  it('exist for every function of the stage', () => {
    const withSamples = new Set(samples.map((sample) => sample.functionId));
    for (const fn of platform.platform.model.functions) expect(withSamples, fn.id).toContain(fn.id);
  });

  it.each(samples)('$name runs without a crash or a 5xx', async ({ functionId, file }) => {
    const event = JSON.parse(readFileSync(path.join(EVENTS_DIR, functionId, file), 'utf8'));
    const result = await platform.platform.runtime.invoke(functionId, event);
    if (!result.ok) {
      // API Gateway's convention: an authorizer throws exactly `Unauthorized` to answer 401.
      expect(functionId, JSON.stringify(result.error)).toMatch(/^authorizer-/);
      expect(result.error.errorMessage).toBe('Unauthorized');
      return;
    }
    const payload = result.payload as { statusCode?: number; batchItemFailures?: unknown[] } | null;
    if (payload && typeof payload.statusCode === 'number') {
      expect(
        payload.statusCode,
        `${functionId}/${file}: ${JSON.stringify(payload).slice(0, 300)}`,
      ).toBeLessThan(500);
    }
  });
});
