// The unit of work's call shape (aws-sdk-client-mock): every part's items in one TransactWriteItems, and a
// cancelled transaction read back per part, so each store's refusal becomes that store's error.
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { LedgeredSessionStore } from '../../../functions/adapters/dynamodb/ledgered-session-store';
import { DynamoQuotaLedger } from '../../../functions/adapters/dynamodb/quota-ledger';
import { DynamoSessionStore } from '../../../functions/adapters/dynamodb/session-store';
import {
  DynamoUnitOfWork,
  type TransactItem,
  UnitOfWorkCancelledError,
} from '../../../functions/adapters/dynamodb/unit-of-work';
import { newId } from '../../../functions/core/ids';
import type { BlobStore } from '../../../functions/core/ports/blob-store';
import type { Hold, HoldRequest } from '../../../functions/core/ports/quota-ledger';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';
import { SessionNotFoundError } from '../../../functions/core/sessions/errors';
import type { MessageRecord, RunRecord } from '../../../functions/core/sessions/schemas';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(client);

const blobs: BlobStore = {
  put: async () => undefined,
  getText: async () => undefined,
  deleteKeys: async () => undefined,
  deletePrefix: async () => 0,
};

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const put = (sk: string): TransactItem => ({
  Put: { TableName: 't', Item: { pk: 'P', sk }, ConditionExpression: 'attribute_not_exists(pk)' },
});

const tenantId = newId('ten', Date.UTC(2026, 0, 1));
const sessionId = newId('ses', Date.UTC(2026, 0, 2));
const runId = newId('run', Date.UTC(2026, 0, 3));

beforeEach(() => {
  ddb.reset();
});

describe('DynamoUnitOfWork', () => {
  it('commits every part once, as one TransactWriteItems, in the order the parts were added', async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const uow = new DynamoUnitOfWork(client);
    uow.add([put('A1'), put('A2')]);
    uow.add([put('B1')]);

    await uow.commit();

    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.TransactItems?.map((item) => item.Put?.Item?.sk)).toEqual([
      'A1',
      'A2',
      'B1',
    ]);
    await expect(uow.commit()).rejects.toThrow('already committed');
  });

  it('hands each part of a cancelled transaction its own reasons, indexed from its first item', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'None', 'ConditionalCheckFailed'));
    const uow = new DynamoUnitOfWork(client);
    const first = uow.add([put('A1'), put('A2')]);
    const second = uow.add([put('B1'), put('B2')]);

    const error = await uow.commit().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(UnitOfWorkCancelledError);
    const refusal = error as UnitOfWorkCancelledError;
    expect(refusal.reasonsOf(second).map((reason) => reason.code)).toEqual([
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(refusal.refused(first)).toBe(false);
    expect(refusal.refused(second)).toBe(true);
    expect(refusal.refusedOnly(second)).toBe(true);
    expect(refusal.refusedOnly(first)).toBe(false);
    expect(refusal.cause).toBeInstanceOf(TransactionCanceledException);
  });

  it('a throttled commit is the retryable 503 every store gives', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));
    const uow = new DynamoUnitOfWork(client);
    uow.add([put('A1')]);

    await expect(uow.commit()).rejects.toMatchObject({ statusCode: 503, code: 'storage_unavailable' });
  });
});

describe('LedgeredSessionStore: one unit of work, each refusal its own store’s error', () => {
  const store = () =>
    new LedgeredSessionStore(
      client,
      new DynamoSessionStore(client, 'sessions', blobs),
      new DynamoQuotaLedger(client, 'quotas'),
    );
  const run: RunRecord = {
    id: runId,
    tenant_id: tenantId,
    session_id: sessionId,
    status: 'queued',
    model: 'm',
    steps: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    error: null,
    created_at: 1,
    updated_at: 1,
    started_at: null,
    completed_at: null,
  };
  const slot: HoldRequest = {
    tenantId,
    quota: 'concurrent_runs',
    window: null,
    resetsAt: null,
    holdId: runId,
    amount: 1,
    limit: 2,
    nowSeconds: 1_000,
    leaseSeconds: 35,
  };

  it('a run and its slot are one transaction: the session check, the run ref, the run, then the slot', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    await store().createRun(run, undefined, { slot });

    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls).toHaveLength(1);
    const items = calls[0]?.args[0].input.TransactItems ?? [];
    expect(
      items.map((item) => item.ConditionCheck?.TableName ?? item.Put?.TableName ?? item.Update?.TableName),
    ).toEqual(['sessions', 'sessions', 'sessions', 'quotas']);
  });

  it('the slot alone refused (nothing expired to reclaim) is the ledger’s QuotaExceededError', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'None', 'ConditionalCheckFailed'));

    await expect(store().createRun(run, undefined, { slot })).rejects.toBeInstanceOf(QuotaExceededError);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('the session’s check refused is the session store’s SessionNotFoundError, whatever the slot', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled('ConditionalCheckFailed', 'None', 'None', 'ConditionalCheckFailed'));

    await expect(store().createRun(run, undefined, { slot })).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  it('a step whose settle alone was refused is recorded again without it: settled not_held', async () => {
    const message: MessageRecord = {
      id: newId('msg', Date.UTC(2026, 0, 4)),
      tenant_id: tenantId,
      session_id: sessionId,
      role: 'assistant',
      content: 'hi',
      created_at: 2,
    };
    const hold: Hold = {
      tenantId,
      quota: 'tokens_per_month',
      window: '2026-01',
      resetsAt: 1_769_904_000,
      holdId: `${runId}:step-0`,
      amount: 100,
      expiresAt: 2_000,
    };
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('None', 'None', 'None', 'ConditionalCheckFailed'))
      .resolves({});
    ddb.on(GetCommand).resolves({});

    const result = await store().appendMessages({
      tenantId,
      sessionId,
      appendId: `${runId}:step-0`,
      expectedLastMessageId: null,
      messages: [message],
      updatedAt: 2,
      settle: { hold, used: 40 },
    });

    expect(result.settled).toEqual({ status: 'not_held' });
    const calls = ddb.commandCalls(TransactWriteCommand);
    expect(calls.map((call) => call.args[0].input.TransactItems?.length)).toEqual([4, 3]);
    expect(calls[0]?.args[0].input.TransactItems?.[3]?.Update?.TableName).toBe('quotas');
  });
});
