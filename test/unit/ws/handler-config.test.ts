// Unit: a ws handler whose environment is incomplete fails its cold start, naming the missing variable.
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('ws handler cold start', () => {
  it.each([
    ['connect', 'CONNECTIONS_TABLE'],
    ['disconnect', 'CONNECTIONS_TABLE'],
    ['default', 'WS_MANAGEMENT_ENDPOINT'],
  ])('%s refuses to load without %s', async (name, variable) => {
    vi.stubEnv(variable, '');

    await expect(import(`../../../functions/handlers/ws/${name}.ts`)).rejects.toThrow(variable);
  });
});
