// Local platform: wires emulators, provisioning, the Lambda runtime, the HTTP and WebSocket APIs and the
// SQS pollers into one running stage, driven only by a LocalPlatformModel.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ADMIN_KEY_FILE, type AdminKeySource, resolveAdminKey } from './admin-key';
import { createEmulatorClients } from './clients';
import { type EmulatorEndpoints, type EmulatorPorts, emulatorEnv, startEmulators } from './emulators';
import { resolveFunctionEnv } from './function-env';
import { startHttpServer } from './http-server';
import {
  consoleLogSink,
  createLambdaRuntime,
  type InvocationObserver,
  type LambdaRuntime,
  type LogSink,
} from './lambda-runtime';
import { dataDirLogSink, LOGS_DIR, teeLogSinks } from './log-files';
import type { LocalPlatformModel } from './model';
import { type CachedModel, isModelCacheFileName, loadCachedModel, type ModelSource } from './model-cache';
import { createPlatformEvents, type PlatformEvents } from './platform-events';
import { provision } from './provision';
import { startSqsPoller } from './sqs-poller';
import type { SynthReply, SynthRequest } from './synth-worker';
import { startWsServer } from './ws-server';

/** The repository root: handler entries in the model are relative to it. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DEFAULT_DATA_DIR = '.tenantic';

/**
 * The data directory, absolute: the option, else TENANTIC_DATA_DIR, else `.tenantic`. An empty value
 * counts as unset: resolved, it would be the working directory (the checkout), which `fresh` wipes.
 *
 * @example
 * resolveDataDir(); // '/work/tenantic/.tenantic' (TENANTIC_DATA_DIR unset or '')
 */
export const resolveDataDir = (option?: string): string =>
  resolve(option || process.env.TENANTIC_DATA_DIR || DEFAULT_DATA_DIR);

/** The running platform's description in the data dir (read by `npm run invoke` and `npm run dlq`). */
export const PLATFORM_FILE = 'platform.json';
/** The emulators' state, under the data dir. */
const EMULATORS_DIR = 'emulators';

/** What a platform keeps in its data dir (see `fresh`): emulator state, the admin key, the cached models. */
const isPlatformEntry = (name: string): boolean =>
  [EMULATORS_DIR, ADMIN_KEY_FILE, PLATFORM_FILE, LOGS_DIR].includes(name) || isModelCacheFileName(name);

/**
 * Removes what a platform keeps in `dataDir`, and nothing else: a data dir set by mistake to a checkout
 * or a home directory loses none of its files.
 */
const wipePlatformState = (dataDir: string): void => {
  if (!existsSync(dataDir)) return;
  for (const name of readdirSync(dataDir)) {
    if (isPlatformEntry(name)) rmSync(join(dataDir, name), { recursive: true, force: true });
  }
};

export interface StartLocalPlatformOptions {
  readonly stage?: string;
  /** HTTP API port (0: a free one). */
  readonly port?: number;
  /** WebSocket API port (0: a free one). */
  readonly wsPort?: number;
  /** State directory; defaults to TENANTIC_DATA_DIR or `.tenantic` (an empty value counts as unset). */
  readonly dataDir?: string;
  /**
   * Start from nothing: remove the platform's state from the data directory first (emulator data, the
   * admin key, the cached model, so the app is synthesized again). Other files there are left alone.
   */
  readonly fresh?: boolean;
  readonly adminKey?: string;
  /** Use this model instead of reading the synthesized template. */
  readonly model?: LocalPlatformModel;
  /** Reuse running emulators (they are then neither persisted nor stopped by this platform). */
  readonly emulators?: EmulatorEndpoints;
  readonly emulatorPorts?: Partial<EmulatorPorts>;
  /** Extra variables for every function (OPENAI_API_KEY, OPENAI_BASE_URL, TENANTIC_DEFAULT_MODEL ...). */
  readonly functionEnvOverrides?: Readonly<Record<string, string>>;
  readonly log?: LogSink;
  /** Told about every finished function invocation, with the AWS requests it made (benchmarks count them). */
  readonly onInvoked?: InvocationObserver;
  readonly rootDir?: string;
  readonly maxEnvironmentsPerFunction?: number;
  /** Concurrent pollers per queue (default 2); benchmarks raise it to run many jobs at once. */
  readonly pollersPerSource?: number;
}

export interface LocalPlatform {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly adminKey: string;
  readonly adminKeySource: AdminKeySource;
  readonly adminKeyFile: string | undefined;
  readonly endpoints: EmulatorEndpoints;
  readonly model: LocalPlatformModel;
  /** Where the model came from: the data dir's cache, a synth of the CDK app, or the caller. */
  readonly modelSource: ModelSource | 'given';
  /** The model cache file, when the model was read from or written to one. */
  readonly modelCacheFile: string | undefined;
  readonly dataDir: string;
  /** Milliseconds from the call until every server answered. */
  readonly coldStartMs: number;
  readonly timings: Readonly<Record<string, number>>;
  readonly runtime: LambdaRuntime;
  /** Finished invocations, function log lines and settled SQS batches, as they happen. */
  readonly events: PlatformEvents;
  stop(): Promise<void>;
}

/** What `<dataDir>/platform.json` holds while a platform runs (read by `npm run invoke`). */
export interface PlatformFile {
  readonly pid: number;
  readonly stage: string;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly endpoints: EmulatorEndpoints;
  readonly startedAt: string;
}

/**
 * Synthesizes the stage and reads its templates, in a worker thread (synth-worker.ts): aws-cdk-lib and the
 * synthesis' garbage go with the thread, so this isolate stays small and its GC pauses short (with the
 * synthesis in-process, 60 MB more heap and 190 MB more external memory stayed behind for good).
 */
export const synthesizeModel = (stage: string): Promise<LocalPlatformModel> =>
  new Promise((resolveModel, reject) => {
    const worker = new Worker(new URL('./synth-worker.ts', import.meta.url), {
      // Workers do not inherit the loader hooks; tsx makes the .ts modules importable.
      execArgv: ['--import', 'tsx'],
      workerData: { stage } satisfies SynthRequest,
      name: `synth:${stage}`,
    });
    let replied = false;
    worker.once('message', (reply: SynthReply) => {
      replied = true;
      if (reply.ok) resolveModel(reply.model);
      else {
        const error = new Error(reply.message);
        error.name = reply.name;
        if (reply.stack) error.stack = reply.stack;
        reject(error);
      }
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!replied) reject(new Error(`the synthesis of stage ${stage} ended without a model (exit ${code})`));
    });
  });

export interface LoadModelOptions {
  /** Where `model-<stage>.json` is cached. */
  readonly dataDir: string;
  /** Synthesize even when the cache matches. */
  readonly fresh?: boolean;
}

/**
 * The stage's model from the synthesized templates, through the data dir's cache: the CDK app is only
 * synthesized again when one of its inputs changed (see model-cache.ts).
 *
 * @example
 * const { model, source } = await loadModel('dev', { dataDir: '.tenantic' });
 */
export const loadModel = (stage: string, options: LoadModelOptions): Promise<CachedModel> =>
  loadCachedModel({
    stage,
    dataDir: options.dataDir,
    rootDir: REPO_ROOT,
    ...(options.fresh ? { fresh: true } : {}),
    load: () => synthesizeModel(stage),
  });

/**
 * Starts the whole local stage. `stop()` ends everything it started, the java child included.
 *
 * @example
 * const platform = await startLocalPlatform({ stage: 'dev', port: 3000, wsPort: 3001 });
 * await fetch(`${platform.httpUrl}/openapi.json`);
 * await platform.stop();
 */
export const startLocalPlatform = async (options: StartLocalPlatformOptions = {}): Promise<LocalPlatform> => {
  const started = performance.now();
  const timings: Record<string, number> = {};
  const mark = (name: string, since: number): number => {
    const now = performance.now();
    timings[name] = Math.round(now - since);
    return now;
  };
  const stage = options.stage ?? 'dev';
  const dataDir = resolveDataDir(options.dataDir);
  if (options.fresh) wipePlatformState(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const admin = resolveAdminKey({ dataDir, ...(options.adminKey ? { adminKey: options.adminKey } : {}) });

  const events = createPlatformEvents();
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => process.stderr.write(`[platform] stop: ${String(error)}\n`));
    }
  };

  try {
    let step = performance.now();
    // The emulators first: DynamoDB Local's JVM is the slowest thing to start, and it starts in its own
    // process while the model is read (or synthesized, in a worker thread).
    const emulatorsReady = (async () => {
      if (options.emulators) return options.emulators;
      const emulators = await startEmulators({
        dataDir: join(dataDir, EMULATORS_DIR),
        ...(options.emulatorPorts ? { ports: options.emulatorPorts } : {}),
      });
      cleanups.push(() => emulators.stop());
      mark('emulators', step);
      return emulators.endpoints;
    })();
    const modelReady = (async (): Promise<CachedModel | undefined> => {
      if (options.model) return undefined;
      const loaded = await loadModel(stage, { dataDir, ...(options.fresh ? { fresh: true } : {}) });
      mark('model', step);
      return loaded;
    })();
    const [loaded, endpoints] = await Promise.all([modelReady, emulatorsReady]).catch(async (error) => {
      // Both settle first, so emulators that did start are in cleanups when stopAll runs.
      await Promise.allSettled([modelReady, emulatorsReady]);
      throw error;
    });
    const model = loaded?.model ?? options.model!;
    step = mark('modelAndEmulators', step);

    const clients = createEmulatorClients(endpoints);
    cleanups.push(async () => clients.destroy());
    const resources = await provision(model, clients, endpoints.sqs);
    step = mark('provision', step);

    // The runtime needs the @connections endpoint, and the WebSocket API needs the runtime: bind late.
    let runtime: LambdaRuntime | undefined;
    const invoke = (functionId: string, event: unknown) => runtime!.invoke(functionId, event);
    const ws = await startWsServer({
      api: model.webSocketApi,
      invoke,
      port: options.wsPort ?? 3001,
      stage,
      apiId: `local-${stage}-ws`,
      region: endpoints.region,
    });
    // On a failed start only; a started platform closes it in its stop sequence below (close is idempotent).
    cleanups.push(() => ws.close());
    const sdkEnv = emulatorEnv(endpoints);
    const createdRuntime = createLambdaRuntime({
      functions: model.functions,
      rootDir: options.rootDir ?? REPO_ROOT,
      region: endpoints.region,
      functionNamePrefix: `tenantic-${stage}-`,
      // By default on the console and under the data dir (logs/<function>.log, logs/metrics.jsonl).
      log: teeLogSinks(
        options.log ?? teeLogSinks(consoleLogSink, dataDirLogSink(dataDir)),
        (functionId, stream, line) => events.emit('log', { functionId, stream, line }),
      ),
      onInvoked: (report) => {
        options.onInvoked?.(report);
        events.emit('invocation', report);
      },
      ...(options.maxEnvironmentsPerFunction
        ? { maxEnvironmentsPerFunction: options.maxEnvironmentsPerFunction }
        : {}),
      environmentFor: (fn) =>
        resolveFunctionEnv(fn, {
          stage,
          resources,
          adminKey: admin.key,
          wsManagementEndpoint: ws.managementEndpoint,
          emulatorEnv: sdkEnv,
          region: endpoints.region,
          overrides: options.functionEnvOverrides ?? {},
        }),
    });
    runtime = createdRuntime;
    cleanups.push(() => createdRuntime.stop());
    const http = await startHttpServer({
      api: model.httpApi,
      invoke,
      port: options.port ?? 3000,
      apiId: `local-${stage}-http`,
      region: endpoints.region,
    });
    cleanups.push(() => http.close());
    const poller = startSqsPoller({
      sqs: clients.sqs,
      eventSources: model.eventSources,
      queueFor: (ref) => {
        const queue = resources.queues.get(ref);
        if (!queue) throw new Error(`event source refers to an unknown queue '${ref}'`);
        return queue;
      },
      invoke,
      region: endpoints.region,
      ...(options.pollersPerSource ? { pollersPerSource: options.pollersPerSource } : {}),
      onBatch: (report) => events.emit('batch', report),
      onError: (error, source) =>
        process.stderr.write(`[sqs-poller ${source.queue}] ${String((error as Error)?.message ?? error)}\n`),
    });
    // Stop order: no new requests or sockets; every open socket closed and its $disconnect run to the end
    // (bounded, in ws.close); only then the pollers and the runtime. Stopping the runtime ends in-flight
    // invocations, so the pollers need not wait out a long consumer, but a $disconnect cut off there would
    // leave a connection record behind and log a runtime error.
    cleanups.push(async () => {
      await Promise.all([http.close(), ws.close()]);
      await Promise.all([poller.stop(), createdRuntime.stop()]);
    });
    mark('servers', step);

    const platformFile = join(dataDir, PLATFORM_FILE);
    const description: PlatformFile = {
      pid: process.pid,
      stage,
      httpUrl: http.url,
      wsUrl: ws.url,
      endpoints,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(platformFile, `${JSON.stringify(description, null, 2)}\n`);
    cleanups.push(async () => rmSync(platformFile, { force: true }));

    const coldStartMs = Math.round(performance.now() - started);
    let stopping: Promise<void> | undefined;
    return {
      httpUrl: http.url,
      wsUrl: ws.url,
      adminKey: admin.key,
      adminKeySource: admin.source,
      adminKeyFile: admin.file,
      endpoints,
      model,
      modelSource: loaded?.source ?? 'given',
      modelCacheFile: loaded?.file,
      dataDir,
      coldStartMs,
      timings,
      runtime: createdRuntime,
      events,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
};
