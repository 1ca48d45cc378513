// The run stream store's reads (aws-sdk-client-mock): logged frames, the run's watch and request claims
// are parsed on the way in; a malformed item is a CorruptRecordError, never a frame or a run id.
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoRunStreamStore } from '../../../functions/adapters/dynamodb/run-stream-store';
import { CorruptRecordError } from '../../../functions/core/errors';
import { newId } from '../../../functions/core/ids';
import type { RunFrame } from '../../../functions/core/streaming/frames';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(client);
const now = 1_795_000_000;
const store = new DynamoRunStreamStore(client, 'sessions', 'idempotency', () => now);

const tenantId = 'ten_1';
const runId = newId('run', Date.UTC(2026, 10, 21));
const pk = `TENANT#${tenantId}#RUN#${runId}`;
const frames: RunFrame[] = [
  { type: 'run.started', run_id: runId, seq: 1, session_id: 'ses_1', status: 'queued', step: 0 },
  { type: 'message.delta', run_id: runId, seq: 2, step: 0, text: 'Hel' },
  {
    type: 'run.failed',
    run_id: runId,
    seq: 3,
    error: { type: 'api_error', code: 'internal_error', message: 'boom', param: null },
  },
];
const frameItem = (frame: unknown, seq = 1) => ({
  pk,
  sk: `EVT#${String(seq).padStart(10, '0')}`,
  frame: typeof frame === 'string' ? frame : JSON.stringify(frame),
  ttl: now + 86_400,
});

const corrupt = async (read: Promise<unknown>, table: string, key: string) => {
  const error = await read.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CorruptRecordError);
  expect(error).toMatchObject({ statusCode: 500, code: 'corrupt_record', expose: false });
  expect((error as Error).message).toContain(`${table} item ${key}`);
  return (error as Error).message;
};

beforeEach(() => ddb.reset());

describe('logged frames', () => {
  it('round-trip through the frame schema, in order', async () => {
    ddb.on(QueryCommand).resolves({ Items: frames.map((frame) => frameItem(frame, frame.seq)) });

    expect(await store.readAfter(tenantId, runId, 0)).toEqual(frames);
    expect(await store.last(tenantId, runId)).toEqual(frames[0]);
  });

  it.each([
    ['a frame of an unknown type', { type: 'run.exploded', run_id: runId, seq: 1 }, 'type'],
    ['a frame missing its seq', { type: 'run.cancelled', run_id: runId }, 'seq'],
    [
      'a delta whose text is not a string',
      { type: 'message.delta', run_id: runId, seq: 1, step: 0, text: 7 },
      'text',
    ],
    [
      'a run.failed with an unknown error type',
      { ...frames[2], seq: 1, error: { ...(frames[2] as { error: object }).error, type: 'oops' } },
      'error.type',
    ],
    ['text that is not JSON', '{"type":"run.cancelled",', 'frame: not JSON'],
  ])('%s is a CorruptRecordError naming the item', async (_case, frame, named) => {
    ddb.on(QueryCommand).resolves({ Items: [frameItem(frame)] });

    const message = await corrupt(store.readAfter(tenantId, runId, 0), 'sessions', `${pk}/EVT#0000000001`);
    expect(message).toContain(named);
    await corrupt(store.last(tenantId, runId), 'sessions', `${pk}/EVT#0000000001`);
  });

  it('an item without its frame attribute is refused too', async () => {
    const { frame: _missing, ...frameless } = frameItem(frames[0]);
    ddb.on(QueryCommand).resolves({ Items: [frameless] });

    expect(await corrupt(store.last(tenantId, runId), 'sessions', `${pk}/EVT#0000000001`)).toContain('frame');
  });
});

describe('watch', () => {
  const run = { sk: 'RUN', status: 'in_progress' };
  const sub = { sk: 'SUB#conn-1', connection_id: 'conn-1', after_seq: 4, ttl: now + 60 };

  it('reads the run status and the live subscriptions; an expired subscription is left out', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [run, sub, { ...sub, sk: 'SUB#conn-2', connection_id: 'conn-2', ttl: now }],
    });

    expect(await store.watch(tenantId, runId)).toEqual({
      status: 'in_progress',
      subscriptions: [{ connectionId: 'conn-1', afterSeq: 4 }],
    });
  });

  it('a run status outside the enum, or a subscription with a bad seq or no ttl, is corrupt', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ ...run, status: 'paused' }] })
      .resolvesOnce({ Items: [run, { ...sub, after_seq: '4' }] })
      .resolvesOnce({ Items: [run, { ...sub, ttl: undefined }] });

    expect(await corrupt(store.watch(tenantId, runId), 'sessions', `${pk}/RUN`)).toContain('status');
    expect(await corrupt(store.watch(tenantId, runId), 'sessions', `${pk}/SUB#conn-1`)).toContain(
      'after_seq',
    );
    expect(await corrupt(store.watch(tenantId, runId), 'sessions', `${pk}/SUB#conn-1`)).toContain('ttl');
  });
});

describe('request claims', () => {
  const claimPk = `WSCHAT#${tenantId}#req-1`;
  const refused = (item?: Record<string, unknown>) =>
    Object.assign(
      new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      {
        ...(item && { Item: item }),
      },
    );

  it('a live claim names its run; an expired one is no claim', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { pk: claimPk, run_id: runId, ttl: now + 1 } })
      .resolvesOnce({ Item: { pk: claimPk, run_id: runId, ttl: now } });

    expect(await store.findRequest(tenantId, 'req-1')).toBe(runId);
    expect(await store.findRequest(tenantId, 'req-1')).toBeUndefined();
  });

  it('a claim item without its run id is corrupt', async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: claimPk, run_id: 42, ttl: now + 1 } });

    expect(await corrupt(store.findRequest(tenantId, 'req-1'), 'idempotency', claimPk)).toContain('run_id');
  });

  it('a refused claim returns the run that holds it, read from the wire-format item, in one request', async () => {
    ddb.on(PutCommand).rejects(refused({ pk: { S: claimPk }, run_id: { S: 'run_other' } }));

    expect(await store.claimRequest(tenantId, 'req-1', runId)).toEqual({
      claimed: false,
      runId: 'run_other',
    });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('a refused claim whose item is malformed is corrupt, not a run id', async () => {
    ddb.on(PutCommand).rejects(refused({ pk: { S: claimPk }, run_id: { N: '7' } }));

    expect(await corrupt(store.claimRequest(tenantId, 'req-1', runId), 'idempotency', claimPk)).toContain(
      'run_id',
    );
  });

  it('a claim that vanished between the refusal and the read is taken on a second try', async () => {
    ddb.on(PutCommand).rejectsOnce(refused()).resolves({});
    ddb.on(GetCommand).resolves({});

    expect(await store.claimRequest(tenantId, 'req-1', runId)).toEqual({ claimed: true });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(2);
  });
});
