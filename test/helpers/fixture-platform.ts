// Test helper: the local platform running the fixture model on the shared emulators, on free ports,
// with function logs captured instead of printed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createEmulatorClients, type EmulatorClients } from '../../local/clients';
import type { LocalPlatformModel } from '../../local/model';
import { type LocalPlatform, type StartLocalPlatformOptions, startLocalPlatform } from '../../local/platform';
import { buildFixtureModel } from './fixture-model';

export interface FixturePlatform {
  readonly platform: LocalPlatform;
  readonly model: LocalPlatformModel;
  readonly clients: EmulatorClients;
  /** Every function log line, as `[function-id] line`. */
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * @example
 * const fixture = await startFixturePlatform();
 * await fetch(`${fixture.platform.httpUrl}/echo`);
 * await fixture.stop();
 */
export const startFixturePlatform = async (
  options: Partial<StartLocalPlatformOptions> = {},
): Promise<FixturePlatform> => {
  const emulators = inject('emulators');
  const model = options.model ?? buildFixtureModel();
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantic-fixture-'));
  const logs: string[] = [];
  const platform = await startLocalPlatform({
    stage: 'fixture',
    port: 0,
    wsPort: 0,
    dataDir,
    adminKey: 'tk_admin_fixture0000000000000000000000',
    emulators,
    log: (functionId, _stream, line) => logs.push(`[${functionId}] ${line}`),
    ...options,
    model,
  });
  const clients = createEmulatorClients(emulators);
  return {
    platform,
    model,
    clients,
    logs,
    async stop() {
      clients.destroy();
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
