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
    ['default', 'TENANTS_TABLE'],
  ])('%s refuses to load without %s', async (name, variable) => {
    // Everything else present, so the failure can only be the variable under test.
    vi.stubEnv('CONNECTIONS_TABLE', 'connections-unit');
    vi.stubEnv('WS_MANAGEMENT_ENDPOINT', 'https://k3x9w2v7qa.execute-api.eu-west-1.amazonaws.com/dev');
    vi.stubEnv('TENANTS_TABLE', 'tenants-unit');
    vi.stubEnv(variable, '');

    await expect(import(`../../../functions/handlers/ws-${name}.ts`)).rejects.toThrow(variable);
  });
});
