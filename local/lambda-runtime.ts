// Local platform: runs LocalFunctions the way Lambda does. Each execution environment is a worker thread
// with its own environment variables, imports the handler once, serves one invocation at a time, and is
// thrown away when an invocation times out or crashes it. A small pool per function grows on demand.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { AwsRequestTally } from '../functions/observability/aws-requests';
import type { InvokeRequest, LambdaErrorPayload, WorkerData, WorkerMessage } from './lambda-worker';
import type { LocalFunction } from './model';

export type InvokeResult =
  | { readonly ok: true; readonly payload: unknown; readonly coldStart: boolean; readonly requestId: string }
  | {
      readonly ok: false;
      readonly error: LambdaErrorPayload;
      readonly coldStart: boolean;
      readonly requestId: string;
    };

/** Where a function's log lines go; the platform prints them tagged with the function id. */
export type LogSink = (functionId: string, stream: 'stdout' | 'stderr', line: string) => void;

/** What the runtime saw of one finished invocation (Lambda's REPORT line, plus the AWS requests made). */
export interface InvocationReport {
  readonly functionId: string;
  readonly requestId: string;
  readonly ok: boolean;
  /** Lambda's error type when the invocation failed (`Sandbox.Timedout`, `Runtime.ExitError`, the error's name). */
  readonly errorType?: string;
  readonly coldStart: boolean;
  /** From the event being handed to the worker to its answer arriving. */
  readonly durationMs: number;
  /** Per service, counted by the function's SDK middleware; empty when the environment died. */
  readonly awsRequests: AwsRequestTally;
}

/** Told about every finished invocation (the benchmarks count AWS requests with it). */
export type InvocationObserver = (report: InvocationReport) => void;

export interface LambdaRuntimeOptions {
  readonly functions: readonly LocalFunction[];
  /** The full environment of one function's execution environments (Lambda passes nothing else in). */
  readonly environmentFor: (fn: LocalFunction) => Readonly<Record<string, string>>;
  /** Directory the functions' `entry` paths are relative to (the repository root). */
  readonly rootDir: string;
  readonly region?: string;
  /** Execution environments per function at most; further invocations wait for a free one. */
  readonly maxEnvironmentsPerFunction?: number;
  readonly log?: LogSink;
  /** Name prefix for functionName (Lambda's physical names), e.g. `tenantic-dev-`. */
  readonly functionNamePrefix?: string;
  readonly onInvoked?: InvocationObserver;
}

export interface LambdaRuntime {
  /**
   * Invokes a function synchronously (RequestResponse) and resolves with its JSON-decoded result or the
   * error as Lambda reports it; never rejects for a function's own failure.
   */
  invoke(functionId: string, event: unknown): Promise<InvokeResult>;
  /** Cold-start figures (module import time per environment), for the banner and benchmarks. */
  readonly stats: () => { functionId: string; environments: number; initMs: number[] }[];
  stop(): Promise<void>;
}

/** Prints function output on the platform's stdout, each line tagged with the function id. */
export const consoleLogSink: LogSink = (functionId, stream, line) => {
  (stream === 'stderr' ? process.stderr : process.stdout).write(`[${functionId}] ${line}\n`);
};

const WORKER_URL = new URL('./lambda-worker.ts', import.meta.url);

/** Lambda's limit for a synchronous invocation's request and response payloads (6 MB). */
const PAYLOAD_LIMIT_BYTES = 6_291_456;

/**
 * The heap Lambda's Node.js runtime gives a function of `memoryMb`: its bootstrap starts node with a tenth
 * of the memory as new space (`--max-semi-space-size` half of it) and the rest as old space. V8 counts a
 * young generation of three semi-spaces (two, plus as much for large new objects), which is what a worker's
 * `maxYoungGenerationSizeMb` sets. Node's default young generation is a third of that for chat-api
 * (1024 MB): it collected three times as often (in the chat benchmark's probe, 215 scavenges of 3 ms
 * against 77 of 5 ms), and the first-turn overhead p99 was 30.0-30.4 ms against 26.2-27.9 ms (two runs each).
 *
 * @example
 * lambdaHeapLimits(1024); // { maxOldGenerationSizeMb: 922, maxYoungGenerationSizeMb: 153 }
 */
const lambdaHeapLimits = (
  memoryMb: number,
): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } => {
  const newSpaceMb = Math.floor(memoryMb / 10);
  const semiSpaceMb = Math.floor(newSpaceMb / 2);
  return { maxOldGenerationSizeMb: memoryMb - newSpaceMb, maxYoungGenerationSizeMb: 3 * semiSpaceMb };
};

interface Pending {
  readonly awsRequestId: string;
  readonly resolve: (result: InvokeResult) => void;
  readonly coldStart: boolean;
  readonly timer: NodeJS.Timeout;
  readonly startedAt: number;
}

class ExecutionEnvironment {
  readonly ready: Promise<LambdaErrorPayload | undefined>;
  busy = false;
  dead = false;
  invocations = 0;
  initMs = 0;
  private pending: Pending | undefined;
  private readonly worker: Worker;

  constructor(
    private readonly fn: LocalFunction,
    workerData: WorkerData,
    env: Readonly<Record<string, string>>,
    private readonly log: LogSink,
    private readonly onDead: (environment: ExecutionEnvironment) => void,
    private readonly onInvoked: InvocationObserver | undefined,
  ) {
    this.worker = new Worker(WORKER_URL, {
      // Workers do not inherit the loader hooks; tsx makes the .ts handler modules importable.
      execArgv: ['--import', 'tsx'],
      env: { ...env },
      workerData,
      stdout: true,
      stderr: true,
      name: `lambda:${fn.id}`,
      // The function's memory size sizes its heap as Lambda's Node.js runtime does, so a leak fails here as
      // it would there, and the collector runs as often.
      resourceLimits: lambdaHeapLimits(fn.memoryMb),
    });
    this.pipeLines(this.worker.stdout, 'stdout');
    this.pipeLines(this.worker.stderr, 'stderr');
    this.ready = new Promise((resolveReady) => {
      const onMessage = (message: WorkerMessage): void => {
        if (message.type === 'ready') {
          this.initMs = message.initMs;
          resolveReady(undefined);
        } else if (message.type === 'initError') {
          resolveReady(message.error);
          void this.discard();
        } else {
          this.settle(message);
        }
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (error: Error & { code?: string }) => {
        const outOfMemory = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
        const payload: LambdaErrorPayload = {
          errorType: outOfMemory ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
          errorMessage: `RequestId: ${this.pending?.awsRequestId ?? '-'} Error: Runtime exited: ${error.message}`,
        };
        resolveReady(payload);
        this.fail(payload);
        void this.discard();
      });
      this.worker.on('exit', (code) => {
        const payload: LambdaErrorPayload = {
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${this.pending?.awsRequestId ?? '-'} Error: Runtime exited with error: exit status ${code}`,
        };
        resolveReady(payload);
        this.fail(payload);
        this.markDead();
      });
    });
  }

  invoke(event: unknown, timeoutMs: number, coldStart: boolean): Promise<InvokeResult> {
    const awsRequestId = randomUUID();
    this.busy = true;
    this.invocations += 1;
    return new Promise((resolveInvoke) => {
      const timer = setTimeout(() => {
        // Lambda freezes and discards an environment whose invocation timed out.
        this.fail({
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${awsRequestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
        });
        void this.discard();
      }, timeoutMs);
      this.pending = { awsRequestId, resolve: resolveInvoke, coldStart, timer, startedAt: performance.now() };
      const request: InvokeRequest = {
        type: 'invoke',
        awsRequestId,
        deadline: Date.now() + timeoutMs,
        event,
      };
      try {
        this.worker.postMessage(request);
      } catch (error) {
        this.fail({ errorType: 'Runtime.InvalidEvent', errorMessage: String(error) });
      }
    });
  }

  async discard(): Promise<void> {
    this.markDead();
    await this.worker.terminate();
  }

  private settle(message: WorkerMessage): void {
    const pending = this.pending;
    if (!pending || !('awsRequestId' in message) || message.awsRequestId !== pending.awsRequestId) return;
    this.finish();
    if (message.type === 'result') {
      pending.resolve({
        ok: true,
        payload: message.payload === undefined ? null : JSON.parse(message.payload),
        coldStart: pending.coldStart,
        requestId: pending.awsRequestId,
      });
    } else if (message.type === 'error') {
      // The Node.js runtime logs an invocation's error before reporting it.
      this.log(this.fn.id, 'stderr', `ERROR\tInvoke Error\t${JSON.stringify(message.error)}`);
      pending.resolve({
        ok: false,
        error: message.error,
        coldStart: pending.coldStart,
        requestId: pending.awsRequestId,
      });
    }
    this.report(pending, message.type === 'error' ? message.error.errorType : undefined, message.awsRequests);
  }

  private fail(error: LambdaErrorPayload): void {
    const pending = this.pending;
    if (!pending) return;
    this.log(this.fn.id, 'stderr', `${pending.awsRequestId} ${error.errorMessage}`);
    this.finish();
    pending.resolve({ ok: false, error, coldStart: pending.coldStart, requestId: pending.awsRequestId });
    this.report(pending, error.errorType, {});
  }

  /** Tells the observer, after the invocation has been answered; an observer's failure is only logged. */
  private report(pending: Pending, errorType: string | undefined, awsRequests: AwsRequestTally): void {
    try {
      this.onInvoked?.({
        functionId: this.fn.id,
        requestId: pending.awsRequestId,
        ok: errorType === undefined,
        ...(errorType === undefined ? {} : { errorType }),
        coldStart: pending.coldStart,
        durationMs: performance.now() - pending.startedAt,
        awsRequests,
      });
    } catch (error) {
      this.log(this.fn.id, 'stderr', `the invocation observer failed: ${String(error)}`);
    }
  }

  private finish(): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
    this.busy = false;
  }

  private markDead(): void {
    if (this.dead) return;
    this.dead = true;
    this.onDead(this);
  }

  private pipeLines(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        this.log(this.fn.id, name, buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    });
    stream.on('end', () => {
      if (buffered) this.log(this.fn.id, name, buffered);
    });
  }
}

class FunctionPool {
  private readonly environments = new Set<ExecutionEnvironment>();
  private readonly waiters: (() => void)[] = [];
  readonly initTimes: number[] = [];

  constructor(
    readonly fn: LocalFunction,
    private readonly createEnvironment: (pool: FunctionPool) => ExecutionEnvironment,
    private readonly max: number,
    private readonly log: LogSink,
  ) {}

  get size(): number {
    return this.environments.size;
  }

  async invoke(event: unknown): Promise<InvokeResult> {
    // Lambda's synchronous invocation payload limit, checked before an environment is taken.
    const size = Buffer.byteLength(JSON.stringify(event ?? null));
    if (size > PAYLOAD_LIMIT_BYTES) {
      return {
        ok: false,
        error: {
          errorType: 'RequestTooLargeException',
          errorMessage: `Request must be smaller than ${PAYLOAD_LIMIT_BYTES} bytes for the InvokeFunction operation`,
        },
        coldStart: false,
        requestId: randomUUID(),
      };
    }
    for (;;) {
      const idle = [...this.environments].find((environment) => !environment.busy && !environment.dead);
      if (idle) return this.run(idle, event, false);
      if (this.environments.size < this.max) {
        const environment = this.createEnvironment(this);
        this.environments.add(environment);
        environment.busy = true;
        const initError = await environment.ready;
        if (initError) {
          this.log(
            this.fn.id,
            'stderr',
            `INIT_REPORT Status: error\tError Type: ${initError.errorType}\t${initError.errorMessage}`,
          );
          this.environments.delete(environment);
          this.wake();
          return { ok: false, error: initError, coldStart: true, requestId: randomUUID() };
        }
        this.initTimes.push(environment.initMs);
        return this.run(environment, event, true);
      }
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }

  remove(environment: ExecutionEnvironment): void {
    this.environments.delete(environment);
    this.wake();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.environments].map((environment) => environment.discard()));
    this.environments.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async run(
    environment: ExecutionEnvironment,
    event: unknown,
    coldStart: boolean,
  ): Promise<InvokeResult> {
    try {
      return await environment.invoke(event, this.fn.timeoutSeconds * 1000, coldStart);
    } finally {
      this.wake();
    }
  }

  private wake(): void {
    this.waiters.shift()?.();
  }
}

/**
 * Creates the runtime for a set of functions; environments start lazily, on first invocation.
 *
 * @example
 * const runtime = createLambdaRuntime({ functions: model.functions, rootDir, environmentFor: (fn) => env });
 * const result = await runtime.invoke('tenants-api', event);
 * if (!result.ok) console.error(result.error.errorType, result.error.errorMessage);
 * await runtime.stop();
 */
export const createLambdaRuntime = (options: LambdaRuntimeOptions): LambdaRuntime => {
  const log = options.log ?? consoleLogSink;
  const region = options.region ?? 'us-east-1';
  const max = Math.max(1, options.maxEnvironmentsPerFunction ?? 4);
  const pools = new Map<string, FunctionPool>();
  let stopped = false;

  const poolFor = (functionId: string): FunctionPool | undefined => {
    let pool = pools.get(functionId);
    if (pool) return pool;
    const fn = options.functions.find((candidate) => candidate.id === functionId);
    if (!fn) return undefined;
    const workerData: WorkerData = {
      moduleUrl: pathToFileURL(resolve(options.rootDir, fn.entry)).href,
      handlerName: fn.handler || 'handler',
      functionName: `${options.functionNamePrefix ?? ''}${fn.id}`,
      memoryMb: fn.memoryMb,
      region,
    };
    pool = new FunctionPool(
      fn,
      (owner) =>
        new ExecutionEnvironment(
          fn,
          workerData,
          options.environmentFor(fn),
          log,
          (environment) => owner.remove(environment),
          options.onInvoked,
        ),
      max,
      log,
    );
    pools.set(functionId, pool);
    return pool;
  };

  return {
    async invoke(functionId, event) {
      const pool = stopped ? undefined : poolFor(functionId);
      if (stopped) {
        return {
          ok: false,
          error: { errorType: 'ServiceException', errorMessage: 'the local Lambda runtime is stopped' },
          coldStart: false,
          requestId: randomUUID(),
        };
      }
      if (!pool) {
        return {
          ok: false,
          error: {
            errorType: 'ResourceNotFoundException',
            errorMessage: `Function not found: ${functionId}`,
          },
          coldStart: false,
          requestId: randomUUID(),
        };
      }
      return pool.invoke(event);
    },
    stats: () =>
      [...pools.values()].map((pool) => ({
        functionId: pool.fn.id,
        environments: pool.size,
        initMs: pool.initTimes,
      })),
    async stop() {
      stopped = true;
      await Promise.all([...pools.values()].map((pool) => pool.stop()));
    },
  };
};
