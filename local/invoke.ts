// Local platform: `npm run invoke -- <function-id> <event.json>`. Runs one function with a sample event
// against the emulators (a running platform's, else its own in-memory ones) and prints the result as JSON.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ADMIN_KEY_FILE, generateAdminKey, resolveAdminKey } from './admin-key';
import { createEmulatorClients } from './clients';
import {
  type EmulatorEndpoints,
  type Emulators,
  emulatorEnv,
  isReachable,
  startEmulators,
} from './emulators';
import { resolveFunctionEnv } from './function-env';
import { createLambdaRuntime } from './lambda-runtime';
import type { LocalPlatformModel } from './model';
import { loadModel, PLATFORM_FILE, type PlatformFile, REPO_ROOT, resolveDataDir } from './platform';
import { silenceExperimentalWarnings } from './process-warnings';
import { provision } from './provision';

const USAGE =
  'usage: npm run invoke -- <function-id> <event.json> [--stage NAME] [--fresh]\n' +
  '  --fresh  synthesize the CDK app again instead of using the cached model';

interface Arguments {
  readonly functionId: string;
  readonly eventFile: string;
  readonly stage: string;
  readonly fresh: boolean;
}

const parseArguments = (argv: readonly string[]): Arguments => {
  const positional: string[] = [];
  let stage = 'dev';
  let fresh = false;
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    if (argument === '--fresh') fresh = true;
    else if (argument === '--stage') stage = argv[++index] ?? stage;
    else if (argument.startsWith('--stage=')) stage = argument.slice('--stage='.length);
    else positional.push(argument);
  }
  if (positional.length !== 2) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  return { functionId: positional[0]!, eventFile: positional[1]!, stage, fresh };
};

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The running platform described by `<dataDir>/platform.json`, if it is still alive. */
export const livePlatform = async (dataDir: string): Promise<PlatformFile | undefined> => {
  const file = join(dataDir, PLATFORM_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const description = JSON.parse(readFileSync(file, 'utf8')) as PlatformFile;
    if (!isAlive(description.pid)) return undefined;
    return (await isReachable(description.endpoints.dynamodb)) ? description : undefined;
  } catch {
    return undefined;
  }
};

export interface InvokeOnceOptions {
  /** A promise is fine: the emulators start while the model is still being read. */
  readonly model: LocalPlatformModel | Promise<LocalPlatformModel>;
  readonly functionId: string;
  readonly event: unknown;
  readonly dataDir: string;
  /** Use these emulators; otherwise a live platform's, otherwise fresh in-memory ones. */
  readonly endpoints?: EmulatorEndpoints;
  readonly wsManagementEndpoint?: string;
  /** Says whose emulators `endpoints` are, for the report line. */
  readonly target?: string;
}

/**
 * Provisions (idempotently), invokes one function once and tears down whatever it started.
 *
 * @example
 * const result = await invokeOnce({ model, functionId: 'openapi-doc', event, dataDir: '.tenantic' });
 */
export const invokeOnce = async (options: InvokeOnceOptions) => {
  let emulators: Emulators | undefined;
  let endpoints = options.endpoints;
  let wsManagementEndpoint = options.wsManagementEndpoint;
  let target = options.target ?? 'given emulators';
  let starting: Promise<Emulators> | undefined;
  if (!endpoints) {
    const live = await livePlatform(options.dataDir);
    if (live) {
      endpoints = live.endpoints;
      wsManagementEndpoint ??= live.wsUrl.replace(/^ws/, 'http');
      target = `the running platform (pid ${live.pid})`;
    } else {
      starting = startEmulators();
      target = 'in-memory emulators';
    }
  }
  let model: LocalPlatformModel;
  try {
    model = await options.model;
  } catch (error) {
    await starting?.then((started) => started.stop()).catch(() => undefined);
    throw error;
  }
  const fn = model.functions.find((candidate) => candidate.id === options.functionId);
  if (!fn) {
    await starting?.then((started) => started.stop()).catch(() => undefined);
    const known = model.functions.map((candidate) => candidate.id).join(', ');
    throw new Error(`unknown function '${options.functionId}'; the stage has: ${known}`);
  }
  if (starting) {
    emulators = await starting;
    endpoints = emulators.endpoints;
  }
  if (!endpoints) throw new Error('no emulators to invoke against');
  const clients = createEmulatorClients(endpoints);
  const hasKey = process.env.ADMIN_API_KEY || existsSync(join(options.dataDir, ADMIN_KEY_FILE));
  const adminKey = hasKey ? resolveAdminKey({ dataDir: options.dataDir }).key : generateAdminKey();
  try {
    const resources = await provision(model, clients, endpoints.sqs);
    const runtime = createLambdaRuntime({
      functions: [fn],
      rootDir: REPO_ROOT,
      region: endpoints.region,
      functionNamePrefix: `tenantic-${model.stage}-`,
      // stdout carries only the result; the function's own logs go to stderr, tagged.
      log: (functionId, _stream, line) => process.stderr.write(`[${functionId}] ${line}\n`),
      environmentFor: (candidate) =>
        resolveFunctionEnv(candidate, {
          stage: model.stage,
          resources,
          adminKey,
          wsManagementEndpoint: wsManagementEndpoint ?? `http://127.0.0.1:${process.env.WS_PORT ?? 3001}`,
          emulatorEnv: emulatorEnv(endpoints),
          region: endpoints.region,
        }),
    });
    try {
      const result = await runtime.invoke(fn.id, options.event);
      return { result, target };
    } finally {
      await runtime.stop();
    }
  } finally {
    clients.destroy();
    await emulators?.stop();
  }
};

const main = async (): Promise<void> => {
  silenceExperimentalWarnings();
  const args = parseArguments(process.argv.slice(2));
  const eventPath = resolve(args.eventFile);
  if (!existsSync(eventPath)) {
    process.stderr.write(`no such event file: ${args.eventFile}\n${USAGE}\n`);
    process.exit(2);
  }
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(eventPath, 'utf8'));
  } catch (error) {
    process.stderr.write(`${args.eventFile} is not valid JSON: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const dataDir = resolveDataDir();
  // Checked before the model loads: synthesizing the app blocks the event loop for seconds.
  const live = await livePlatform(dataDir);
  const { result, target } = await invokeOnce({
    ...(live
      ? {
          endpoints: live.endpoints,
          wsManagementEndpoint: live.wsUrl.replace(/^ws/, 'http'),
          target: `the running platform (pid ${live.pid})`,
        }
      : {}),
    model: loadModel(args.stage, { dataDir, fresh: args.fresh }).then((loaded) => {
      if (loaded.source === 'cache')
        process.stderr.write(`[invoke] model from the cache ${relative(process.cwd(), loaded.file!)}\n`);
      return loaded.model;
    }),
    functionId: args.functionId,
    event,
    dataDir,
  });
  process.stderr.write(
    `[invoke] ${args.functionId} on ${target}: ${result.ok ? 'succeeded' : 'failed'} (request ${result.requestId})\n`,
  );
  if (result.ok) {
    process.stdout.write(`${JSON.stringify(result.payload, null, 2)}\n`);
    process.exit(0);
  }
  process.stdout.write(`${JSON.stringify(result.error, null, 2)}\n`);
  process.exit(1);
};

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'invoke.ts')) {
  main().catch((error: unknown) => {
    process.stderr.write(`invoke failed: ${String((error as Error)?.message ?? error)}\n`);
    process.exit(1);
  });
}
