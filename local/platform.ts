// Local platform: wires emulators, provisioning, the Lambda runtime, the HTTP and WebSocket APIs and the
// SQS pollers into one running stage, driven only by a LocalPlatformModel.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AdminKeySource, resolveAdminKey } from './admin-key';
import { createEmulatorClients } from './clients';
import { type EmulatorEndpoints, type EmulatorPorts, emulatorEnv, startEmulators } from './emulators';
import { resolveFunctionEnv } from './function-env';
import { startHttpServer } from './http-server';
import { consoleLogSink, createLambdaRuntime, type LambdaRuntime, type LogSink } from './lambda-runtime';
import type { LocalPlatformModel } from './model';
import { provision } from './provision';
import { startSqsPoller } from './sqs-poller';
import { startWsServer } from './ws-server';

/** The repository root: handler entries in the model are relative to it. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DEFAULT_DATA_DIR = '.tenantic';

export interface StartLocalPlatformOptions {
  readonly stage?: string;
  /** HTTP API port (0: a free one). */
  readonly port?: number;
  /** WebSocket API port (0: a free one). */
  readonly wsPort?: number;
  /** State directory; defaults to TENANTIC_DATA_DIR or `.tenantic`. */
  readonly dataDir?: string;
  /** Wipe the data directory first. */
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
  readonly rootDir?: string;
  readonly maxEnvironmentsPerFunction?: number;
}

export interface LocalPlatform {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly adminKey: string;
  readonly adminKeySource: AdminKeySource;
  readonly adminKeyFile: string | undefined;
  readonly endpoints: EmulatorEndpoints;
  readonly model: LocalPlatformModel;
  readonly dataDir: string;
  /** Milliseconds from the call until every server answered. */
  readonly coldStartMs: number;
  readonly timings: Readonly<Record<string, number>>;
  readonly runtime: LambdaRuntime;
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

interface TemplateModelModule {
  loadLocalModel(options: { stage: string }): Promise<LocalPlatformModel>;
}

/** Reads the model from the synthesized template (template-model.ts, imported lazily). */
export const loadModel = async (stage: string): Promise<LocalPlatformModel> => {
  const specifier = new URL('./template-model.ts', import.meta.url).href;
  const module = (await import(specifier)) as TemplateModelModule;
  return module.loadLocalModel({ stage });
};

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
  const dataDir = resolve(options.dataDir ?? process.env.TENANTIC_DATA_DIR ?? DEFAULT_DATA_DIR);
  if (options.fresh) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const admin = resolveAdminKey({ dataDir, ...(options.adminKey ? { adminKey: options.adminKey } : {}) });

  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => process.stderr.write(`[platform] stop: ${String(error)}\n`));
    }
  };

  try {
    let step = performance.now();
    const [model, endpoints] = await Promise.all([
      options.model ? Promise.resolve(options.model) : loadModel(stage),
      (async () => {
        if (options.emulators) return options.emulators;
        const emulators = await startEmulators({
          dataDir: join(dataDir, 'emulators'),
          ...(options.emulatorPorts ? { ports: options.emulatorPorts } : {}),
        });
        cleanups.push(() => emulators.stop());
        return emulators.endpoints;
      })(),
    ]);
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
    cleanups.push(() => ws.close());
    const sdkEnv = emulatorEnv(endpoints);
    const createdRuntime = createLambdaRuntime({
      functions: model.functions,
      rootDir: options.rootDir ?? REPO_ROOT,
      region: endpoints.region,
      functionNamePrefix: `tenantic-${stage}-`,
      log: options.log ?? consoleLogSink,
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
      onError: (error, source) =>
        process.stderr.write(`[sqs-poller ${source.queue}] ${String((error as Error)?.message ?? error)}\n`),
    });
    // Stopping the runtime ends in-flight invocations, so the pollers need not wait out a long consumer.
    cleanups.push(() => Promise.all([poller.stop(), createdRuntime.stop()]));
    mark('servers', step);

    const platformFile = join(dataDir, 'platform.json');
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
      dataDir,
      coldStartMs,
      timings,
      runtime: createdRuntime,
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
