// Observability: how many requests each AWS service got during the current invocation, and how long each
// took to answer (request sent → response headers). SDK middleware on every client counts each attempt
// (a retried call counts twice, as AWS receives it); the HTTP access log reports the figures per request,
// and the local Lambda runtime reads them after each invocation, which is how the benchmarks count
// DynamoDB requests.
//
// A Lambda execution environment serves one invocation at a time, so one tally per environment serves:
// it is started afresh when an invocation starts, and a request is counted in the tally of the invocation
// that sent it (one still in flight when the next invocation starts does not land in the new one). It
// lives on a global symbol so that every copy of this module in a thread (a bundle, the local runtime's
// worker) shares the same figures.
import type {
  DeserializeHandler,
  DeserializeHandlerArguments,
  HandlerExecutionContext,
  MiddlewareStack,
} from '@smithy/types';

interface ServiceTally {
  /** Requests sent (each retry attempt counts). */
  requests: number;
  /** Milliseconds from a request being sent to its response headers, summed (overlapping calls add up). */
  ms: number;
  /** Requests per operation (`GetItem`, `TransactWriteItems`, ...). */
  operations: Record<string, number>;
  /** Milliseconds per operation, summed like `ms`: which of a request's calls the wait was on. */
  operationMs: Record<string, number>;
  /**
   * Milliseconds during which at least one of the service's requests was in flight: the wait as the
   * invocation saw it, where calls made side by side count once (at most `ms`).
   */
  wallMs: number;
}

/** Per tally: its requests in flight now, and since when some have been (for `wallMs`). */
const inFlight = new WeakMap<ServiceTally, { count: number; since: number }>();

export type AwsRequestTally = Record<string, ServiceTally>;

const TALLY = Symbol.for('tenantic.awsRequestTally');
type TallyHolder = { [TALLY]?: AwsRequestTally };

const holder = globalThis as TallyHolder;

/** Starts a new tally for the invocation that is beginning. */
export const startAwsRequestTally = (): void => {
  holder[TALLY] = {};
};

/**
 * The figures since the invocation began (a copy).
 *
 * @example
 * awsRequestTally();
 * // { dynamodb: { requests: 3, ms: 7.4, operations: { BatchGetItem: 1, UpdateItem: 2 },
 * //   operationMs: { BatchGetItem: 1.9, UpdateItem: 5.5 } } }
 */
export const awsRequestTally = (): AwsRequestTally =>
  Object.fromEntries(
    Object.entries(holder[TALLY] ?? {}).map(([service, tally]) => [
      service,
      { ...tally, operations: { ...tally.operations }, operationMs: { ...tally.operationMs } },
    ]),
  );

/** The current invocation's tally, to record into. */
const currentTallies = (): AwsRequestTally => {
  const tallies = holder[TALLY] ?? {};
  holder[TALLY] = tallies;
  return tallies;
};

const tallyOf = (tallies: AwsRequestTally, service: string): ServiceTally => {
  const tally = tallies[service] ?? { requests: 0, ms: 0, operations: {}, operationMs: {}, wallMs: 0 };
  tallies[service] = tally;
  return tally;
};

/** A request of the service was sent at `now`. */
const begin = (tally: ServiceTally, now: number): void => {
  const open = inFlight.get(tally);
  if (open) open.count += 1;
  else inFlight.set(tally, { count: 1, since: now });
};

/** A request of the service got its answer at `now`, `ms` after it was sent. */
const record = (tally: ServiceTally, operation: string, now: number, ms: number): void => {
  tally.requests += 1;
  tally.ms += ms;
  tally.operations[operation] = (tally.operations[operation] ?? 0) + 1;
  tally.operationMs[operation] = (tally.operationMs[operation] ?? 0) + ms;
  const open = inFlight.get(tally);
  if (!open) return;
  open.count -= 1;
  if (open.count > 0) return;
  tally.wallMs += now - open.since;
  inFlight.delete(tally);
};

/**
 * Adds the counting middleware to an SDK client's stack, innermost (after retries and signing, around the
 * HTTP exchange itself), so it sees every attempt and times it up to the response headers.
 *
 * @example
 * const client = new DynamoDBClient({});
 * countAwsRequests(client.middlewareStack, 'dynamodb');
 */
export const countAwsRequests = <Input extends object, Output extends object>(
  stack: MiddlewareStack<Input, Output>,
  service: string,
): void => {
  stack.add(
    (next: DeserializeHandler<Input, Output>, context: HandlerExecutionContext) =>
      async (args: DeserializeHandlerArguments<Input>) => {
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        const tally = tallyOf(currentTallies(), service);
        const started = performance.now();
        begin(tally, started);
        try {
          return await next(args);
        } finally {
          const ended = performance.now();
          record(tally, operation, ended, ended - started);
        }
      },
    { step: 'deserialize', priority: 'low', name: 'tenanticAwsRequestTally', override: true },
  );
};
