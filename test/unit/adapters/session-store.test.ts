// The session adapters' call shapes (aws-sdk-client-mock): batch retries, failure mapping, and what is
// never sent when a step fails.
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoSessionStore } from '../../../functions/adapters/dynamodb/session-store';
import { S3BlobStore } from '../../../functions/adapters/s3/blob-store';
import { CorruptRecordError, UpstreamError } from '../../../functions/core/errors';
import { newId } from '../../../functions/core/ids';
import type { BlobStore } from '../../../functions/core/ports/blob-store';
import { DYNAMODB_UNPROCESSED } from '../../../functions/core/resilience/retry-policy';
import { SessionNotFoundError } from '../../../functions/core/sessions/errors';
import type { MessageRecord } from '../../../functions/core/sessions/schemas';

const TABLE = 'sessions-test';
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(client);
const s3Client = new S3Client({ region: 'eu-west-1' });
const s3 = mockClient(s3Client);

const tenantId = newId('ten', Date.UTC(2026, 0, 1));
const sessionId = newId('ses', Date.UTC(2026, 0, 2));

/** A BlobStore that records what it is asked. */
const recordingBlobs = () => {
  const calls: string[] = [];
  const blobs: BlobStore = {
    put: async (key) => {
      calls.push(`put ${key}`);
    },
    getText: async () => undefined,
    deleteKeys: async (keys) => {
      calls.push(`deleteKeys ${keys.join(',')}`);
    },
    deletePrefix: async (prefix) => {
      calls.push(`deletePrefix ${prefix}`);
      return 0;
    },
  };
  return { blobs, calls };
};

const throttled = () =>
  Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });

beforeEach(() => {
  ddb.reset();
  s3.reset();
});

describe('DynamoSessionStore.deleteSession', () => {
  const items = Array.from({ length: 30 }, (_, index) => ({
    pk: `TENANT#${tenantId}#SESSION#${sessionId}`,
    sk: `MSG#${newId('msg', Date.UTC(2026, 0, 3) + index)}`,
  }));

  it('asks again for exactly the items BatchWrite left unprocessed, then removes the session last', async () => {
    const { blobs, calls } = recordingBlobs();
    const store = new DynamoSessionStore(client, TABLE, blobs);
    ddb.on(UpdateCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: items });
    const leftOver = [{ DeleteRequest: { Key: items[3] } }, { DeleteRequest: { Key: items[7] } }];
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: leftOver } })
      .resolves({ UnprocessedItems: {} });
    ddb.on(DeleteCommand).resolves({});

    await store.deleteSession(tenantId, sessionId);

    const writes = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[TABLE]);
    expect(writes.map((write) => write?.length)).toEqual([25, 2, 5]);
    expect(writes[1]).toEqual(leftOver);
    expect(calls).toEqual([`deletePrefix tenants/${tenantId}/sessions/${sessionId}/`]);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(1);
    expect(ddb.commandCalls(DeleteCommand)[0]?.args[0].input.Key).toEqual({
      pk: `TENANT#${tenantId}#SESSION#${sessionId}`,
      sk: 'SESSION',
    });
  });

  it('gives up with a retryable 503 when items stay unprocessed, keeping the session item', async () => {
    const { blobs, calls } = recordingBlobs();
    const store = new DynamoSessionStore(client, TABLE, blobs);
    ddb.on(UpdateCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: items.slice(0, 2) });
    ddb
      .on(BatchWriteCommand)
      .resolves({ UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: items[0] } }] } });

    const error = await store.deleteSession(tenantId, sessionId).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ statusCode: 503, code: 'storage_unavailable' });
    // The retry policy's budget for unprocessed items, and not one request more.
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(DYNAMODB_UNPROCESSED.attempts);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
    expect(calls).toEqual([]);
  });

  it('an unknown session is a 404 and nothing else is sent', async () => {
    const store = new DynamoSessionStore(client, TABLE, recordingBlobs().blobs);
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('condition'), { name: 'ConditionalCheckFailedException' }));

    await expect(store.deleteSession(tenantId, sessionId)).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });
});

describe('DynamoSessionStore.appendMessages', () => {
  const big: MessageRecord = {
    id: newId('msg', Date.UTC(2026, 0, 3)),
    tenant_id: tenantId,
    session_id: sessionId,
    role: 'user',
    content: 'x'.repeat(40_000),
    created_at: 1,
  };
  const request = {
    tenantId,
    sessionId,
    appendId: 'a1',
    expectedLastMessageId: null,
    messages: [big],
    updatedAt: 1,
  };

  it('offloads a large body and removes it again when the transaction fails', async () => {
    const { blobs, calls } = recordingBlobs();
    const store = new DynamoSessionStore(client, TABLE, blobs);
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: 'cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
      }),
    );
    ddb.on(GetCommand).resolves({});

    await expect(store.appendMessages(request)).rejects.toBeInstanceOf(SessionNotFoundError);

    const key = `tenants/${tenantId}/sessions/${sessionId}/messages/${big.id}`;
    expect(calls).toEqual([`put ${key}`, `deleteKeys ${key}`]);
    const put = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[2]?.Put?.Item;
    expect(put).toMatchObject({ body_key: key });
    expect(put?.content).toBeUndefined();
  });

  it('a throttled transaction is a retryable 503', async () => {
    const store = new DynamoSessionStore(client, TABLE, recordingBlobs().blobs);
    ddb.on(TransactWriteCommand).rejects(throttled());

    await expect(
      store.appendMessages({ ...request, messages: [{ ...big, content: 'hi' }] }),
    ).rejects.toMatchObject({
      statusCode: 503,
    });
  });
});

describe('DynamoSessionStore: stored items are parsed, not cast', () => {
  const pk = `TENANT#${tenantId}#SESSION#${sessionId}`;
  /** A stored message item's keys and ids, with the fields a case sets (or leaves out). */
  const messageItem = (fields: Record<string, unknown>) => ({
    pk,
    sk: 'MSG#1',
    id: 'msg_1',
    tenant_id: tenantId,
    session_id: sessionId,
    created_at: 1,
    ...fields,
  });
  const runId = newId('run', Date.UTC(2026, 0, 3));
  const session = {
    id: sessionId,
    tenant_id: tenantId,
    title: null,
    model: 'gpt-4o-mini',
    system_prompt: null,
    tools: null,
    metadata: { team: 'a' },
    created_at: 1,
    updated_at: 2,
    last_message_id: null,
  };
  // As written: keys, index keys and `entity` beside the record's fields; nulls left out.
  const sessionItem = {
    pk,
    sk: 'SESSION',
    gsi1pk: `TENANT#${tenantId}#SESSIONS`,
    gsi1sk: sessionId,
    entity: 'session',
    id: sessionId,
    tenant_id: tenantId,
    model: 'gpt-4o-mini',
    metadata: { team: 'a' },
    created_at: 1,
    updated_at: 2,
  };
  const run = {
    id: runId,
    tenant_id: tenantId,
    session_id: sessionId,
    status: 'completed' as const,
    model: 'gpt-4o-mini',
    steps: [
      {
        index: 0,
        type: 'message_creation' as const,
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
        created_at: 5,
        reservation: { holdId: `${runId}:step-0` },
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    error: null,
    created_at: 4,
    updated_at: 6,
    started_at: 5,
    completed_at: 6,
  };
  const corrupt = async (read: Promise<unknown>, field: string, where = TABLE) => {
    const error = await read.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ statusCode: 500, code: 'corrupt_record', expose: false });
    expect((error as Error).message).toContain(where);
    expect((error as Error).message).toContain(field);
  };

  it('a session item round-trips to the record, without its key attributes', async () => {
    const store = new DynamoSessionStore(client, TABLE, recordingBlobs().blobs);
    ddb.on(GetCommand).resolves({ Item: sessionItem });

    expect(await store.getSession(tenantId, sessionId)).toEqual(session);
  });

  it('a run item round-trips, its steps keeping the reservation they were charged through', async () => {
    const store = new DynamoSessionStore(client, TABLE, recordingBlobs().blobs);
    const { error: _absent, ...stored } = run;
    ddb
      .on(GetCommand)
      .resolves({ Item: { pk: `TENANT#${tenantId}#RUN#${runId}`, sk: 'RUN', entity: 'run', ...stored } });

    expect(await store.getRun(tenantId, runId)).toEqual(run);
  });

  it('a malformed session, run or message item is a CorruptRecordError naming the table and the field', async () => {
    const store = new DynamoSessionStore(client, TABLE, recordingBlobs().blobs);
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { ...sessionItem, created_at: 'yesterday' } })
      .resolvesOnce({ Item: { ...run, status: 'paused' } });
    await corrupt(store.getSession(tenantId, sessionId), 'created_at');
    await corrupt(store.getRun(tenantId, runId), 'status');

    ddb.on(QueryCommand).resolvesOnce({
      Items: [sessionItem, messageItem({ content: 'hi' })],
    });
    await corrupt(store.readSessionWithHistory(tenantId, sessionId, 10), 'role');
  });

  it('an offloaded body that is not a message body is a CorruptRecordError too', async () => {
    const { blobs } = recordingBlobs();
    const store = new DynamoSessionStore(client, TABLE, { ...blobs, getText: async () => '{"content": 42}' });
    ddb.on(QueryCommand).resolvesOnce({
      Items: [sessionItem, messageItem({ role: 'user', body_key: 'k' })],
    });

    await corrupt(store.readSessionWithHistory(tenantId, sessionId, 10), 'content', 'files bucket item k');
  });
});

describe('S3BlobStore', () => {
  const blobs = new S3BlobStore(s3Client, 'files');
  const s3Error = (name: string, status: number) =>
    new S3ServiceException({
      name,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status },
    });

  it('maps throttling to a retryable 503 and a missing key to undefined', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('SlowDown', 503));
    s3.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404));

    await expect(blobs.put('tenants/t/x', 'body', 'application/json')).rejects.toMatchObject({
      statusCode: 503,
      code: 'storage_unavailable',
    });
    expect(await blobs.getText('tenants/t/x')).toBeUndefined();
  });

  it('leaves other failures alone: they are bugs, not the caller’s fault', async () => {
    s3.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));

    await expect(blobs.getText('tenants/t/x')).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('deletes a prefix page by page and fails on a per-key error that DeleteObjects reports with 200', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'tenants/t/a' }], IsTruncated: true, NextContinuationToken: 'next' })
      .resolves({ Contents: [{ Key: 'tenants/t/b' }], IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});

    expect(await blobs.deletePrefix('tenants/t/')).toBe(2);
    expect(s3.commandCalls(ListObjectsV2Command)[1]?.args[0].input.ContinuationToken).toBe('next');

    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'tenants/t/a', Code: 'InternalError' }] });
    await expect(blobs.deleteKeys(['tenants/t/a'])).rejects.toMatchObject({ statusCode: 503 });
  });
});
