// Benchmark: platform overhead per chat turn (end-to-end time minus the LLM's own time, as a fixed-latency
// fake upstream measured it) and DynamoDB requests per simple turn, counted by the functions' own SDK
// middleware, for `POST /v1/chat/completions` and an inline `POST /v1/sessions/{id}/messages`; and, for
// scale, the floor this machine sets: a route that makes no AWS request, and one DynamoDB Local request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { isSummaryRequest } from '../functions/core/chat/compact-session';
import { type EmulatorEndpoints, startEmulators } from '../local/emulators';
import type { InvocationReport } from '../local/lambda-runtime';
import { startLocalPlatform } from '../local/platform';
import { type FakeOpenAiServer, startFakeOpenAiServer } from '../test/helpers/fake-openai-server';
import { runRecord } from './history';
import { type BenchResponse, benchClient } from './http-client';
import { jitCpuMs, jitMsEach } from './jit';
import { codeVersion, machine, percentile, readSection, watchHost, writeSection } from './report';

const LLM_LATENCY_MS = 50;
/** Before each row: the row's own route and data shape, warm. */
const WARM_UP_TURNS = 100;
/**
 * Before anything is measured, rounds of a completion, a new session and its first turn, until DynamoDB
 * Local's JIT compiler has gone quiet: the service it stands in for is always warm. The JVM keeps compiling
 * for thousands of requests (after 1,200 completions its C2 thread still used 4-5 ms of CPU per completion
 * on this machine, taken from the same two cores the platform runs on; after 3,000, 0.1 ms), and a lone
 * UpdateItem keeps getting faster (p50 2.8 ms after 300 requests, 1.8 ms after 6,000). At least this many
 * rounds, and at most `JVM_WARM_UP_MAX_ROUNDS`.
 */
const JVM_WARM_UP_MIN_ROUNDS = Number(process.env.BENCH_CHAT_JVM_WARM_UP) || 600;
const JVM_WARM_UP_MAX_ROUNDS = Number(process.env.BENCH_CHAT_JVM_WARM_UP_MAX) || 5000;
/** The JIT is quiet once a window of this many rounds cost it less than `JIT_QUIET_MS_PER_ROUND` each. */
const JIT_WINDOW_ROUNDS = 200;
/** Of CPU, per round; the kernel counts it in 10 ms ticks, so a window's reading is good to 0.05 ms a round. */
const JIT_QUIET_MS_PER_ROUND = 0.3;
/** Enough for a p99 that is not just the second-worst turn: 1,000 turns make it the tenth. */
const TURNS = Number(process.env.BENCH_CHAT_TURNS) || 1000;
const TARGET_P99_MS = 25;
const TARGET_DYNAMO_REQUESTS = 5;
/** The first rows measure simple turns; the rest show what a long session adds. */
const SIMPLE_ROWS = 2;

/**
 * Counts what the platform's functions asked of DynamoDB, from the tally their SDK middleware keeps per
 * invocation (functions/observability/aws-requests), which the local Lambda runtime hands over after each
 * invocation: every function of a turn (authorizer, route, workers) is included.
 */
interface DynamoCounter {
  readonly requests: number[];
  /** Per invocation, the milliseconds some request was in flight (`wallMs`). */
  readonly ms: number[];
  readonly operations: Map<string, number>;
  /** Milliseconds waited per operation since the last reset, summed over the invocations. */
  readonly operationMs: Map<string, number>;
  readonly observe: (report: InvocationReport) => void;
  reset(): void;
}

const dynamoCounter = (): DynamoCounter => {
  const counter = {
    requests: [] as number[],
    ms: [] as number[],
    operations: new Map<string, number>(),
    operationMs: new Map<string, number>(),
    observe: (report: InvocationReport) => {
      const tally = report.awsRequests.dynamodb;
      if (!tally) return;
      counter.requests.push(tally.requests);
      // The wait as the invocation saw it: requests made side by side count once.
      counter.ms.push(tally.wallMs);
      for (const [operation, count] of Object.entries(tally.operations))
        counter.operations.set(operation, (counter.operations.get(operation) ?? 0) + count);
      for (const [operation, ms] of Object.entries(tally.operationMs))
        counter.operationMs.set(operation, (counter.operationMs.get(operation) ?? 0) + ms);
    },
    reset: () => {
      counter.requests.length = 0;
      counter.ms.length = 0;
      counter.operations.clear();
      counter.operationMs.clear();
    },
  };
  return counter;
};

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

interface TurnFigures {
  readonly route: string;
  readonly turns: number;
  readonly endToEndP50: number;
  readonly overheadP50: number;
  readonly overheadP99: number;
  /** Median per turn of the time spent waiting on DynamoDB Local (part of the overhead). */
  readonly dynamoMsP50: number;
  /** The overhead without that wait: what the platform's own code and the local runtime cost. */
  readonly ownP50: number;
  readonly ownP99: number;
  readonly llmCallsPerTurn: number;
  /**
   * Summarizer calls of long-session compactions (chat worker, in the background) queued by the row's turns,
   * whether they ended during the turn (its time includes them, never as LLM time) or after it.
   */
  readonly summaryCalls: number;
  readonly dynamoPerTurn: number;
  readonly dynamoOperations: string;
  /** CPU DynamoDB Local's JIT compiler used per measured turn (undefined: not known here). */
  readonly jitMsPerTurn: number | undefined;
  /** Per operation, p50 and p99 over the turns of the time waited on it in a turn (calls side by side add up). */
  readonly operationWaits: readonly {
    readonly operation: string;
    readonly p50: number;
    readonly p99: number;
  }[];
}

/** One row of the table: a turn, and what runs before it outside its timing and count. */
interface Row {
  readonly route: string;
  readonly turn: () => Promise<void>;
  /** Runs before each turn, outside the timing and the count (e.g. creating the turn's session). */
  readonly prepare?: () => Promise<void>;
  /** Runs after each measured turn, outside the timing and the count (waiting out background work). */
  readonly after?: () => Promise<void>;
}

/** What one row's measured turns gave. */
interface Samples {
  readonly overheads: number[];
  readonly endToEnd: number[];
  llmCalls: number;
  summaryCalls: number;
  readonly dynamo: number[];
  readonly dynamoMs: number[];
  readonly operations: Map<string, number>;
  readonly operationMs: Map<string, number[]>;
}

/**
 * Measures rows side by side: each row's warm-up turns, then `TURNS` rounds of one turn of each row in
 * turn, so that what the shared machine does meanwhile falls on every row alike (rows measured one after
 * the other were minutes apart, and this machine's pace drifts by several times within minutes).
 */
const measureInterleaved = async (
  rows: readonly Row[],
  fake: FakeOpenAiServer,
  counter: DynamoCounter,
  /** The JIT compiler's CPU milliseconds so far (`jitCpuMs` of DynamoDB Local), or undefined. */
  jit: () => number | undefined,
): Promise<TurnFigures[]> => {
  for (const row of rows) {
    for (let i = 0; i < WARM_UP_TURNS; i += 1) {
      await row.prepare?.();
      await row.turn();
    }
  }
  const samples: Samples[] = rows.map(() => ({
    overheads: [],
    endToEnd: [],
    llmCalls: 0,
    summaryCalls: 0,
    dynamo: [],
    dynamoMs: [],
    operations: new Map(),
    operationMs: new Map(),
  }));
  const jitBefore = jit();
  for (let i = 0; i < TURNS; i += 1) {
    for (const [index, row] of rows.entries()) {
      await measureTurn(row, fake, counter, samples[index] as Samples);
    }
  }
  const jitAfter = jit();
  const jitMsPerTurn = jitMsEach(jitBefore, jitAfter, TURNS * rows.length);
  return rows.map((row, index) => figuresOf(row.route, samples[index] as Samples, jitMsPerTurn));
};

const measure = async (
  route: string,
  fake: FakeOpenAiServer,
  counter: DynamoCounter,
  jit: () => number | undefined,
  turn: () => Promise<void>,
): Promise<TurnFigures> =>
  (await measureInterleaved([{ route, turn }], fake, counter, jit))[0] as TurnFigures;

/**
 * One turn, timed and counted. DynamoDB is counted over one turn at a time, after a settle, so writes a turn
 * leaves behind cannot land on the next one; the figure is the median over the measured turns.
 */
const measureTurn = async (row: Row, fake: FakeOpenAiServer, counter: DynamoCounter, into: Samples) => {
  await row.prepare?.();
  fake.reset();
  counter.reset();
  const started = performance.now();
  await row.turn();
  const elapsed = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 5));
  // A compaction's summary call runs in the background, beside some turn: it is not that turn's LLM time.
  const all = fake.chatRequests();
  const calls = all.filter((call) => !isSummaryRequest(call.body));
  into.summaryCalls += all.length - calls.length;
  const llmMs = calls.reduce((total, call) => total + (call.durationMs ?? 0), 0);
  into.llmCalls += calls.length;
  into.endToEnd.push(elapsed);
  into.overheads.push(elapsed - llmMs);
  into.dynamo.push(sum(counter.requests));
  into.dynamoMs.push(sum(counter.ms));
  for (const [operation, count] of counter.operations)
    into.operations.set(operation, (into.operations.get(operation) ?? 0) + count);
  for (const [operation, ms] of counter.operationMs) {
    const waits = into.operationMs.get(operation) ?? [];
    waits.push(ms);
    into.operationMs.set(operation, waits);
  }
  if (row.after) {
    await row.after();
    // A summary call that ended while waiting is still this row's background work.
    into.summaryCalls +=
      fake.chatRequests().filter((call) => isSummaryRequest(call.body)).length - (all.length - calls.length);
  }
};

const figuresOf = (route: string, samples: Samples, jitMsPerTurn: number | undefined): TurnFigures => {
  const { overheads, endToEnd, dynamo, dynamoMs, operations, operationMs } = samples;
  return {
    route,
    turns: TURNS,
    jitMsPerTurn,
    endToEndP50: percentile(endToEnd, 50),
    overheadP50: percentile(overheads, 50),
    overheadP99: percentile(overheads, 99),
    dynamoMsP50: percentile(dynamoMs, 50),
    ownP50: percentile(
      overheads.map((overhead, i) => overhead - (dynamoMs[i] ?? 0)),
      50,
    ),
    ownP99: percentile(
      overheads.map((overhead, i) => overhead - (dynamoMs[i] ?? 0)),
      99,
    ),
    llmCallsPerTurn: samples.llmCalls / TURNS,
    summaryCalls: samples.summaryCalls,
    dynamoPerTurn: percentile(dynamo, 50),
    dynamoOperations: [...operations.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([operation, count]) => `${operation} ${(count / TURNS).toFixed(1)}`)
      .join(', '),
    // Operations most turns make (not the odd recovery or reclaim), the costliest first; a turn without
    // the operation waited 0 ms on it.
    operationWaits: [...operationMs.entries()]
      .filter(([, waits]) => waits.length >= TURNS / 2)
      .map(([operation, waits]) => {
        const all = [...waits, ...Array.from({ length: TURNS - waits.length }, () => 0)];
        return { operation, p50: percentile(all, 50), p99: percentile(all, 99) };
      })
      .sort((a, b) => b.p99 - a.p99),
  };
};

/**
 * Issue 18: the long-session row makes the DynamoDB requests of a first turn, with an overhead p99 within
 * 1.5 times the first turn's, in the same run.
 */
const longSessionVerdict = (
  figures: readonly TurnFigures[],
  verdict: (ok: boolean) => string,
  compactions: number,
): string[] => {
  const first = figures[SIMPLE_ROWS - 1];
  const long = figures[SIMPLE_ROWS];
  if (!first || !long) return [];
  const ratio = long.overheadP99 / first.overheadP99;
  return [
    "Target (issue 18): a long session's turn makes the DynamoDB requests of a first turn, with an overhead p99 " +
      `within 1.5× of it. Requests: ${verdict(long.dynamoPerTurn === first.dynamoPerTurn)} (${long.dynamoPerTurn} ` +
      `and ${first.dynamoPerTurn}); overhead p99: ${verdict(ratio <= 1.5)} (${long.overheadP99.toFixed(1)} ms, ` +
      `${ratio.toFixed(2)}× ${first.overheadP99.toFixed(1)} ms). Compactions queued by the measured turns: ` +
      `${long.summaryCalls} (one summary call each); ${compactions} of them were still running when their turn ` +
      'ended and were waited out, outside every timing and count; the others ran during their turn, whose time ' +
      'includes them. Each costs the chat worker 6 DynamoDB requests and one LLM call (docs/sessions-context.md).',
  ];
};

const expectOk = ({ status, text }: BenchResponse, what: string): unknown => {
  if (status !== 200 && status !== 201) throw new Error(`${what}: ${status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
};

/**
 * One DynamoDB Local request at a time from an SDK client in this process (an UpdateItem that adds to a
 * counter, like a quota hold), after the same warm-up as the turns: what a single round trip costs here.
 */
const dynamoRoundTrips = async (endpoints: EmulatorEndpoints): Promise<{ p50: number; p99: number }> => {
  const client = new DynamoDBClient({
    endpoint: endpoints.dynamodb,
    region: endpoints.region,
    credentials: { ...endpoints.credentials },
  });
  const TableName = 'bench-round-trips';
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  const update = () =>
    client.send(
      new UpdateItemCommand({
        TableName,
        Key: { pk: { S: 'counter' } },
        UpdateExpression: 'ADD used :n',
        ExpressionAttributeValues: { ':n': { N: '1' } },
        ReturnValues: 'ALL_NEW',
      }),
    );
  for (let i = 0; i < WARM_UP_TURNS * 3; i += 1) await update();
  const times: number[] = [];
  for (let i = 0; i < TURNS * 3; i += 1) {
    const started = performance.now();
    await update();
    times.push(performance.now() - started);
  }
  client.destroy();
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
};

/** The idle time before each hand-off: about what a turn's threads sit idle while the fake LLM answers. */
const IDLE_BEFORE_HAND_OFF_MS = 20;

/**
 * One message to another thread and its answer back (a worker_threads ping-pong: no I/O, no work), each
 * after the machine sat idle for a while, as a turn's threads do during its LLM call. A turn hands its
 * work on dozens of times (client, HTTP API, the function's worker, DynamoDB Local's threads, the fake
 * upstream), and on a virtual machine each wake-up of an idle core is dear: this is the price of one.
 */
const handOffs = async (): Promise<{ p50: number; p99: number }> => {
  const echo = new Worker(
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));",
    { eval: true },
  );
  const roundTrip = () =>
    new Promise<number>((resolve) => {
      const started = performance.now();
      echo.once('message', () => resolve(performance.now() - started));
      echo.postMessage(0);
    });
  for (let i = 0; i < WARM_UP_TURNS; i += 1) await roundTrip();
  const times: number[] = [];
  for (let i = 0; i < TURNS; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, IDLE_BEFORE_HAND_OFF_MS));
    times.push(await roundTrip());
  }
  await echo.terminate();
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
};

export const runChatBench = async (): Promise<void> => {
  const host = machine();
  const watched = watchHost();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tenantic-bench-chat-'));
  const fake = await startFakeOpenAiServer({
    latencyMs: LLM_LATENCY_MS,
    fallback: { type: 'text', text: 'Fine, thanks.', usage: { prompt_tokens: 20, completion_tokens: 3 } },
  });
  // In memory, with the JVM's full JIT: the emulator as fast as it gets here, so that what is left of the
  // overhead is the platform's own.
  const emulators = await startEmulators({ steadyState: true });
  const counter = dynamoCounter();
  const platform = await startLocalPlatform({
    stage: 'dev',
    port: 0,
    wsPort: 0,
    dataDir,
    emulators: emulators.endpoints,
    onInvoked: counter.observe,
    functionEnvOverrides: {
      OPENAI_API_KEY: 'bench',
      OPENAI_BASE_URL: fake.baseURL,
      TENANTIC_DEFAULT_MODEL: 'gpt-4o-mini',
    },
    log: () => {},
  });
  let figures: TurnFigures[];
  /** Compactions of the long session, each waited out after the turn that queued it. */
  const background = { compactions: 0 };
  let floor: {
    readonly platform: TurnFigures;
    readonly dynamo: { p50: number; p99: number };
    readonly handOff: { p50: number; p99: number };
  };
  /** How long DynamoDB Local was warmed up, and what its JIT compiler still used in the last window. */
  let warmUp: { rounds: number; jitMsPerRound: number | undefined } = {
    rounds: 0,
    jitMsPerRound: undefined,
  };
  const client = benchClient(platform.httpUrl);
  try {
    const adminHeaders = { authorization: `Bearer ${platform.adminKey}`, 'content-type': 'application/json' };
    const tenant = expectOk(
      await client.send(
        'POST',
        '/v1/tenants',
        adminHeaders,
        JSON.stringify({ name: 'chat-bench', plan: 'pro', quotas: { requests_per_minute: 100_000 } }),
      ),
      'create tenant',
    ) as { id: string };
    const { key } = expectOk(
      await client.send('POST', `/v1/tenants/${tenant.id}/api-keys`, adminHeaders, '{}'),
      'create key',
    ) as { key: string };
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    const completion = async () => {
      expectOk(
        await client.send(
          'POST',
          '/v1/chat/completions',
          headers,
          JSON.stringify({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'How are you?' }],
            max_tokens: 32,
          }),
        ),
        'chat completion',
      );
    };
    let session = '';
    const newSession = async () => {
      const created = expectOk(
        await client.send('POST', '/v1/sessions', headers, '{}'),
        'create session',
      ) as {
        id: string;
      };
      session = created.id;
    };
    const messageTo = async (sessionId: string) => {
      expectOk(
        await client.send(
          'POST',
          `/v1/sessions/${sessionId}/messages`,
          headers,
          JSON.stringify({ content: 'How are you?' }),
        ),
        'session message',
      );
    };
    const message = () => messageTo(session);
    /**
     * Waits until the session's queued compaction, if any, is done: on this machine the chat worker shares
     * the two cores and DynamoDB Local with the turns, which in the cloud it does not, so its work is kept
     * off every measured turn (it is counted apart: `compactions`).
     */
    const compacted = async (sessionId: string) => {
      const compacting = async () =>
        (
          expectOk(await client.send('GET', `/v1/sessions/${sessionId}`, headers), 'get session') as {
            context?: { compacting?: boolean };
          }
        ).context?.compacting === true;
      if (!(await compacting())) return;
      background.compactions += 1;
      for (let attempt = 0; attempt < 1000 && (await compacting()); attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const jit = () => jitCpuMs(emulators.dynamoDbPid);
    const round = async () => {
      await completion();
      await newSession();
      await message();
    };
    for (let i = 0; i < JVM_WARM_UP_MIN_ROUNDS; i += 1) await round();
    warmUp = { rounds: JVM_WARM_UP_MIN_ROUNDS, jitMsPerRound: undefined };
    while (warmUp.rounds < JVM_WARM_UP_MAX_ROUNDS) {
      const before = jit();
      for (let i = 0; i < JIT_WINDOW_ROUNDS; i += 1) await round();
      const after = jit();
      warmUp = {
        rounds: warmUp.rounds + JIT_WINDOW_ROUNDS,
        jitMsPerRound: jitMsEach(before, after, JIT_WINDOW_ROUNDS),
      };
      // Where the compiler cannot be watched, the minimum warm-up is all there is.
      if (warmUp.jitMsPerRound === undefined || warmUp.jitMsPerRound < JIT_QUIET_MS_PER_ROUND) break;
    }
    const staticRoute = async () => {
      expectOk(await client.send('GET', '/openapi.json'), 'openapi document');
    };
    floor = {
      platform: await measure('GET /openapi.json', fake, counter, jit, staticRoute),
      dynamo: await dynamoRoundTrips(emulators.endpoints),
      handOff: await handOffs(),
    };
    // The first turn of a fresh session, and every turn of one session whose history grows by a turn each
    // time, side by side (issue 18 compares them).
    const long = await (async () => {
      await newSession();
      return session;
    })();
    figures = [
      await measure('POST /v1/chat/completions', fake, counter, jit, completion),
      ...(await measureInterleaved(
        [
          {
            route: 'POST /v1/sessions/{id}/messages (inline, first turn of a session)',
            turn: message,
            prepare: newSession,
          },
          {
            route: `POST /v1/sessions/{id}/messages (inline, one session, turns ${WARM_UP_TURNS + 1}–${WARM_UP_TURNS + TURNS})`,
            turn: () => messageTo(long),
            after: () => compacted(long),
          },
        ],
        fake,
        counter,
        jit,
      )),
    ];
  } finally {
    client.close();
    await platform.stop();
    await emulators.stop();
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const warmUpDescription =
    warmUp.jitMsPerRound === undefined
      ? `${warmUp.rounds.toLocaleString('en')} of them (its JIT compiler's CPU cannot be read here)`
      : `${warmUp.rounds.toLocaleString('en')} of them, ${
          warmUp.jitMsPerRound < JIT_QUIET_MS_PER_ROUND
            ? `until its JIT compiler used less than ${JIT_QUIET_MS_PER_ROUND} ms of CPU per round`
            : `the most there may be, though its JIT compiler still used more than ${JIT_QUIET_MS_PER_ROUND} ms of CPU per round`
        } (${warmUp.jitMsPerRound.toFixed(2)} ms over the last ${JIT_WINDOW_ROUNDS}; the JVM compiles for thousands of requests, and meanwhile takes CPU from the two cores the platform runs on)`;
  const jitDuring = figures
    .map((f) => `${f.route}: ${f.jitMsPerTurn === undefined ? 'unknown' : ms(f.jitMsPerTurn)}`)
    .join('; ');
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  const hostPace = watched.pace();
  const runs = runRecord(
    readSection('chat'),
    [
      'run (UTC)',
      'code',
      'fixed CPU workload, start → end',
      ...figures.slice(0, SIMPLE_ROWS).map((f) => `${f.route}: overhead p99`),
    ],
    [
      new Date().toISOString().slice(0, 16).replace('T', ' '),
      codeVersion(),
      `${hostPace.start.toFixed(0)} → ${hostPace.end.toFixed(0)} ms`,
      ...figures.slice(0, SIMPLE_ROWS).map((f) => ms(f.overheadP99)),
    ],
  );
  const body = [
    '## Chat',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${host}; ${watched.describe()}. The machine is shared and noisy ` +
      "(other sessions' builds and test suites may run at the same time, and DynamoDB Local is a JVM on the same " +
      '2 cores): read the latencies as an upper bound for this machine, not as what Lambda would show.',
    '',
    `Local platform (its own DynamoDB Local, in memory, with the JVM's full JIT and its throughput garbage collector over a 64 MB young generation; SQS/S3 emulators; functions in the local Lambda runtime's worker ` +
      `threads) with a fake OpenAI upstream answering after a fixed ${LLM_LATENCY_MS} ms. First DynamoDB Local is warmed up, ` +
      'since the service it stands in for is always warm: rounds of a completion, a new session and its first turn, ' +
      `${warmUpDescription}. Then per row ${WARM_UP_TURNS} warm-up ` +
      `turns, then ${TURNS} sequential turns per row, each a one-line user message with a short answer (the last ` +
      'two rows side by side: a turn of one, then a turn of the other, so that the drift of this shared ' +
      "machine's pace falls on both alike). A " +
      '"simple turn" is the first two rows: a chat completion, or the first message of a fresh session (created ' +
      'before the turn, outside its timing and count); the last row is every turn in one session whose history ' +
      'grows by a turn each time, which reads only its window (the newest 64 messages and a running summary, ' +
      'docs/sessions-context.md) and so should cost what a first turn does. The client is a plain `node:http` request on one kept-alive connection from the same process ' +
      '(`bench/http-client.ts`), not global fetch, whose own CPU and garbage would land on the two cores and in ' +
      'the isolate that runs the local HTTP API.',
    '',
    '- **Overhead** = end-to-end time at the client − the time the fake upstream measured for the LLM ' +
      'request(s) of that turn (from the request arriving to its response being flushed).',
    "- **DynamoDB requests** are counted by SDK middleware on the functions' own clients " +
      '(`functions/observability/aws-requests.ts`: every attempt, at the wire), which keep a tally per ' +
      'invocation; the local Lambda runtime hands it over after each invocation, and a turn counts every ' +
      'function it invoked (authorizer, route, workers). Median per turn. The same tally times each request up ' +
      'to the response headers; the wait on DynamoDB Local is the time some request of the turn was in flight ' +
      '(requests sent side by side count once), and the overhead without it is what the ' +
      'platform code and the local runtime (HTTP emulation, worker threads, SDK serialisation and signing) ' +
      'cost. The access log line of every HTTP request carries the same figures (`aws_requests`), in the ' +
      'cloud too. A simple inline turn queues no job (a recovery job is queued only for a run left unfinished ' +
      'on record: a first step that calls tools, or a hand-off), so nothing lands later: its count is all on ' +
      'its way. A long session queues a compaction of its older turns about once every 16 turns (a ' +
      '`session.compact` job on chat-runs). Here the chat worker shares the two cores and DynamoDB Local with ' +
      "the turns (in the cloud it runs elsewhere), and its requests would land in whichever turn's count is " +
      'open: so after each turn of the long session the benchmark waits, outside the timings and counts, until ' +
      'the compaction that turn queued (if any) is done. The turn that queues one counts its fence (one ' +
      "conditional write), and a compaction that ends during its own turn counts in that turn's time and " +
      'requests (not as its LLM time; the median of the requests leaves such turns out). ' +
      `Each overhead p99 is taken over ${TURNS.toLocaleString('en')} turns.`,
    '',
    '| route | end-to-end p50 | overhead p50 | overhead p99 | of which DynamoDB Local, p50 | overhead without it, p50 / p99 | LLM calls / turn | DynamoDB requests / turn | operations / turn |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...figures.map(
      (f) =>
        `| ${f.route} | ${ms(f.endToEndP50)} | ${ms(f.overheadP50)} | ${ms(f.overheadP99)} | ${ms(f.dynamoMsP50)} | ${ms(f.ownP50)} / ${ms(f.ownP99)} | ${f.llmCallsPerTurn.toFixed(1)} | ${f.dynamoPerTurn} | ${f.dynamoOperations} |`,
    ),
    '',
    `DynamoDB Local's JIT compiler, CPU per turn during each row: ${jitDuring}.`,
    '',
    'Where the wait on DynamoDB Local goes, per operation (p50 / p99 over the turns of the milliseconds a turn ' +
      'waited on it; calls made side by side, such as the admission and the slot, add up):',
    '',
    '| route | wait per operation, p50 / p99 |',
    '| --- | --- |',
    ...figures.map(
      (f) =>
        `| ${f.route} | ${f.operationWaits.map((w) => `${w.operation} ${ms(w.p50)} / ${ms(w.p99)}`).join(', ')} |`,
    ),
    '',
    'What this machine allows, measured in the same run and after the same warm-up: the local platform with ' +
      'nothing to do (a public route that makes no AWS request and calls no LLM), and one DynamoDB Local ' +
      'request on its own (an SDK client in the benchmark process, an UpdateItem that adds to a counter, ' +
      `${TURNS * 3} in a row). A turn's overhead cannot be below the first plus its sequential DynamoDB round trips. ` +
      'The last row is the price of one hand-off between two threads once the machine has sat idle, as during a ' +
      "turn's LLM call: a turn makes dozens (the function's worker, DynamoDB Local's HTTP and SQLite threads for " +
      'each request, the fake upstream), and on this virtual machine each costs far more than on bare metal.',
    '',
    '| floor | p50 | p99 |',
    '| --- | ---: | ---: |',
    `| ${floor.platform.route}: the local HTTP API and Lambda runtime alone | ${ms(floor.platform.overheadP50)} | ${ms(floor.platform.overheadP99)} |`,
    `| one DynamoDB Local request (UpdateItem) | ${ms(floor.dynamo.p50)} | ${ms(floor.dynamo.p99)} |`,
    `| a message to another thread and back, after ${IDLE_BEFORE_HAND_OFF_MS} ms idle (worker_threads) | ${floor.handOff.p50.toFixed(2)} ms | ${floor.handOff.p99.toFixed(2)} ms |`,
    '',
    `Targets (issue 3): overhead p99 ≤ ${TARGET_P99_MS} ms; at most ${TARGET_DYNAMO_REQUESTS} DynamoDB requests per simple turn.`,
    '',
    '| route | overhead p99 ≤ 25 ms | ≤ 5 DynamoDB requests |',
    '| --- | --- | --- |',
    ...figures.map(
      (f, index) =>
        `| ${f.route} | ${verdict(f.overheadP99 <= TARGET_P99_MS)} (${ms(f.overheadP99)}) | ${
          index < SIMPLE_ROWS
            ? `${verdict(f.dynamoPerTurn <= TARGET_DYNAMO_REQUESTS)} (${f.dynamoPerTurn})`
            : `not a simple turn (${f.dynamoPerTurn})`
        } |`,
    ),
    '',
    ...longSessionVerdict(figures, verdict, background.compactions),
    '',
    "The last runs on this machine, newest first: one run's p99 moves by several milliseconds with what the " +
      "machine's other tenants do, so read a verdict against these, each beside the pace of a core during it " +
      '(the same fixed workload as above: a higher figure is a slower, busier host).',
    '',
    runs,
  ].join('\n');
  writeSection('chat', body);
  process.stdout.write(`${body}\n`);
};
