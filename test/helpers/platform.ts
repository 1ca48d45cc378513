// Test helper: the real stage (model read from the synthesized CDK template) on the shared emulators, on
// free ports, with a fresh data directory and function logs captured for failure messages.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { type LocalPlatform, type StartLocalPlatformOptions, startLocalPlatform } from '../../local/platform';

export interface TestPlatform {
  readonly platform: LocalPlatform;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly adminKey: string;
  /** Function log lines as `[function-id] line`. */
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * @example
 * const platform = await startTestPlatform();
 * await fetch(`${platform.httpUrl}/openapi.json`);
 * await platform.stop();
 */
export const startTestPlatform = async (
  options: Partial<StartLocalPlatformOptions> = {},
): Promise<TestPlatform> => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantic-e2e-'));
  const logs: string[] = [];
  const platform = await startLocalPlatform({
    stage: 'dev',
    port: 0,
    wsPort: 0,
    dataDir,
    adminKey: `admin-e2e-${randomBytes(16).toString('hex')}`,
    emulators: inject('emulators'),
    log: (functionId, _stream, line) => logs.push(`[${functionId}] ${line}`),
    ...options,
  });
  return {
    platform,
    httpUrl: platform.httpUrl,
    wsUrl: platform.wsUrl,
    adminKey: platform.adminKey,
    logs,
    async stop() {
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
