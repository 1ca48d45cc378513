// Test helper: vitest globalSetup for the integration and e2e suites. Starts the emulators once, in memory,
// and hands their endpoints to every test file (`inject('emulators')`); stops them at teardown.
import type { TestProject } from 'vitest/node';
import { type EmulatorEndpoints, startEmulators } from '../../local/emulators';

declare module 'vitest' {
  export interface ProvidedContext {
    emulators: EmulatorEndpoints;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulators = await startEmulators();
  project.provide('emulators', emulators.endpoints);
  return async () => {
    await emulators.stop();
  };
}
