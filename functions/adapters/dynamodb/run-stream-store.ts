// Adapter: RunStreamStore on DynamoDB. The log and the subscriptions live in the run's own partition of
// the sessions table, next to the run item, so one Query reads the run's status and its subscribers:
//   run           pk TENANT#<t>#RUN#<r>  sk RUN               (written by DynamoSessionStore)
//   frame         pk TENANT#<t>#RUN#<r>  sk EVT#<seq, 10 digits>  frame (JSON), ttl
//   subscription  pk TENANT#<t>#RUN#<r>  sk SUB#<connection id>   after_seq, ttl
// and the request claims in the idempotency table:
//   claim         pk WSCHAT#<t>#<client_request_id>  run_id, ttl
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { MAX_CONNECTION_SECONDS } from '../../core/connections/schemas';
import { ConflictError } from '../../core/errors';
import type { RunStreamStore, RunSubscription, RunWatch } from '../../core/ports/run-stream-store';
import { type RunStatus, RunStatusSchema } from '../../core/sessions/schemas';
import { RunSeqConflictError } from '../../core/streaming/errors';
import { type RunFrame, RunFrameSchema } from '../../core/streaming/frames';
import { cancellationCodes, errorName, translateDynamoError } from './errors';
import { itemKey, parseItem } from './parse-item';
import { runPk } from './session-store';

/** A run's frames stay resumable this long after they were written. */
const RUN_LOG_TTL_SECONDS = 24 * 60 * 60;
/** A repeated `client_request_id` finds its run for this long (a client retrying after a drop). */
const REQUEST_CLAIM_TTL_SECONDS = 24 * 60 * 60;

const frameSk = (seq: number) => `EVT#${String(seq).padStart(10, '0')}`;
const subSk = (connectionId: string) => `SUB#${connectionId}`;
const claimPk = (tenantId: string, clientRequestId: string) => `WSCHAT#${tenantId}#${clientRequestId}`;

/** JSON text, parsed; the parser's message is left out (it quotes the text). */
const JsonText = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON' });
    return z.NEVER;
  }
});
/** A logged frame: the frame as JSON text, read back through the frame schema. */
const FrameItemSchema = z.object({ frame: JsonText.pipe(RunFrameSchema) }).transform((item) => item.frame);
/** The run item as `watch` projects it (the session store writes it). */
const RunStatusItemSchema = z.object({ status: RunStatusSchema });
const SubscriptionItemSchema = z.object({
  connection_id: z.string().min(1),
  after_seq: z.number().int().nonnegative(),
  ttl: z.number(),
});
const ClaimItemSchema = z.object({ run_id: z.string().min(1), ttl: z.number() });
/** The claim a refused put returns: in wire format from DynamoDB (`{ S }`), plain from a document-level fake. */
const RefusedClaimSchema = z.object({
  run_id: z.union([z.string().min(1), z.object({ S: z.string().min(1) }).transform((value) => value.S)]),
});

export class DynamoRunStreamStore implements RunStreamStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly sessionsTable: string,
    private readonly idempotencyTable: string,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async append(tenantId: string, runId: string, frames: readonly RunFrame[]): Promise<void> {
    const ttl = this.nowSeconds() + RUN_LOG_TTL_SECONDS;
    const puts = frames.map((frame) => ({
      TableName: this.sessionsTable,
      Item: { pk: runPk(tenantId, runId), sk: frameSk(frame.seq), frame: JSON.stringify(frame), ttl },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
    try {
      if (puts.length === 1) await this.client.send(new PutCommand(puts[0] as (typeof puts)[number]));
      else if (puts.length > 1) {
        await this.client.send(new TransactWriteCommand({ TransactItems: puts.map((Put) => ({ Put })) }));
      }
    } catch (error) {
      const codes = cancellationCodes(error);
      if (
        errorName(error) === 'ConditionalCheckFailedException' ||
        codes?.includes('ConditionalCheckFailed')
      ) {
        throw new RunSeqConflictError(runId, { cause: error });
      }
      throw translateDynamoError(error);
    }
  }

  async readAfter(tenantId: string, runId: string, afterSeq: number): Promise<RunFrame[]> {
    const frames: RunFrame[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.query({
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: {
          ':pk': runPk(tenantId, runId),
          ':from': frameSk(afterSeq + 1),
          ':to': 'EVT#9999999999',
        },
        ConsistentRead: true,
        ...(start && { ExclusiveStartKey: start }),
      });
      for (const item of page.Items ?? []) frames.push(this.toFrame(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return frames;
  }

  async last(tenantId: string, runId: string): Promise<RunFrame | undefined> {
    const page = await this.query({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :evt)',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': runPk(tenantId, runId), ':evt': 'EVT#' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    });
    const item = page.Items?.[0];
    return item ? this.toFrame(item) : undefined;
  }

  async subscribe(tenantId: string, runId: string, subscription: RunSubscription): Promise<void> {
    await this.write(
      new PutCommand({
        TableName: this.sessionsTable,
        Item: {
          pk: runPk(tenantId, runId),
          sk: subSk(subscription.connectionId),
          connection_id: subscription.connectionId,
          after_seq: subscription.afterSeq,
          ttl: this.nowSeconds() + MAX_CONNECTION_SECONDS,
        },
      }),
    );
  }

  async unsubscribe(tenantId: string, runId: string, connectionId: string): Promise<void> {
    await this.write(
      new DeleteCommand({
        TableName: this.sessionsTable,
        Key: { pk: runPk(tenantId, runId), sk: subSk(connectionId) },
      }),
    );
  }

  async watch(tenantId: string, runId: string): Promise<RunWatch> {
    // 'RUN' sorts before 'SUB#' and after every 'EVT#': the range holds the run item and the subscriptions.
    const now = this.nowSeconds();
    let status: RunStatus | undefined;
    const subscriptions: RunSubscription[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.query({
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :run AND :subs',
        ExpressionAttributeNames: {
          '#pk': 'pk',
          '#sk': 'sk',
          '#status': 'status',
          '#conn': 'connection_id',
          '#after': 'after_seq',
          '#ttl': 'ttl',
        },
        ExpressionAttributeValues: { ':pk': runPk(tenantId, runId), ':run': 'RUN', ':subs': 'SUB#\uffff' },
        ProjectionExpression: '#sk, #status, #conn, #after, #ttl',
        ConsistentRead: true,
        ...(start && { ExclusiveStartKey: start }),
      });
      for (const item of page.Items ?? []) {
        // The projection leaves pk out: the run's partition is known.
        const key = () => `${runPk(tenantId, runId)}/${String(item.sk)}`;
        if (item.sk === 'RUN') {
          status = parseItem(RunStatusItemSchema, item, this.sessionsTable, key).status;
          continue;
        }
        if (typeof item.sk !== 'string' || !item.sk.startsWith('SUB#')) continue;
        const subscription = parseItem(SubscriptionItemSchema, item, this.sessionsTable, key);
        // Past its ttl but not yet deleted by DynamoDB (that can take days): gone.
        if (subscription.ttl <= now) continue;
        subscriptions.push({ connectionId: subscription.connection_id, afterSeq: subscription.after_seq });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { status, subscriptions };
  }

  async findRequest(tenantId: string, clientRequestId: string): Promise<string | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const result = await this.client.send(
        new GetCommand({
          TableName: this.idempotencyTable,
          Key: { pk: claimPk(tenantId, clientRequestId) },
          ConsistentRead: true,
        }),
      );
      item = result.Item;
    } catch (error) {
      throw translateDynamoError(error);
    }
    if (!item) return undefined;
    const claim = parseItem(ClaimItemSchema, item, this.idempotencyTable, () =>
      claimPk(tenantId, clientRequestId),
    );
    return claim.ttl <= this.nowSeconds() ? undefined : claim.run_id;
  }

  claimRequest(
    tenantId: string,
    clientRequestId: string,
    runId: string,
  ): Promise<{ readonly claimed: true } | { readonly claimed: false; readonly runId: string }> {
    return this.claim(tenantId, clientRequestId, runId, true);
  }

  private async claim(
    tenantId: string,
    clientRequestId: string,
    runId: string,
    mayRetry: boolean,
  ): Promise<{ readonly claimed: true } | { readonly claimed: false; readonly runId: string }> {
    const now = this.nowSeconds();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.idempotencyTable,
          Item: {
            pk: claimPk(tenantId, clientRequestId),
            run_id: runId,
            ttl: now + REQUEST_CLAIM_TTL_SECONDS,
          },
          // An expired claim DynamoDB has not deleted yet may be taken over.
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true };
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw translateDynamoError(error);
      const refused = typeof error === 'object' && error !== null && 'Item' in error ? error.Item : undefined;
      const existing =
        refused === undefined
          ? await this.findRequest(tenantId, clientRequestId)
          : parseItem(RefusedClaimSchema, refused, this.idempotencyTable, () =>
              claimPk(tenantId, clientRequestId),
            ).run_id;
      if (existing !== undefined) return { claimed: false, runId: existing };
      // The claim went away between the refusal and the read (its run was discarded, or it expired): take it.
      if (mayRetry) return this.claim(tenantId, clientRequestId, runId, false);
      throw new ConflictError(
        'request_claim_conflict',
        'Another chat with this client_request_id is being accepted right now; retry.',
        { cause: error, param: 'client_request_id' },
      );
    }
  }

  async reviveRun(tenantId: string, runId: string, code: string, nowSeconds: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.sessionsTable,
          Key: { pk: runPk(tenantId, runId), sk: 'RUN' },
          UpdateExpression: 'SET #status = :queued, #updated = :now REMOVE #error, #started, #completed',
          ConditionExpression: '#status = :failed AND #error.#code = :code',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#updated': 'updated_at',
            '#error': 'error',
            '#code': 'code',
            '#started': 'started_at',
            '#completed': 'completed_at',
          },
          ExpressionAttributeValues: {
            ':queued': 'queued',
            ':failed': 'failed',
            ':code': code,
            ':now': nowSeconds,
          },
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw translateDynamoError(error);
    }
  }

  async discard(tenantId: string, runId: string, clientRequestId?: string): Promise<void> {
    if (clientRequestId !== undefined) {
      try {
        await this.client.send(
          new DeleteCommand({
            TableName: this.idempotencyTable,
            Key: { pk: claimPk(tenantId, clientRequestId) },
            ConditionExpression: '#run = :run',
            ExpressionAttributeNames: { '#run': 'run_id' },
            ExpressionAttributeValues: { ':run': runId },
          }),
        );
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') throw translateDynamoError(error);
      }
    }
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.query({
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': runPk(tenantId, runId) },
        ProjectionExpression: '#pk, #sk',
        ConsistentRead: true,
        ...(start && { ExclusiveStartKey: start }),
      });
      for (const item of page.Items ?? []) {
        // The run item is the session store's: only what this store wrote is removed.
        if (item.sk === 'RUN') continue;
        await this.write(
          new DeleteCommand({ TableName: this.sessionsTable, Key: { pk: item.pk, sk: item.sk } }),
        );
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }

  private toFrame(item: Record<string, unknown>): RunFrame {
    return parseItem(FrameItemSchema, item, this.sessionsTable, () => itemKey(item));
  }

  private async query(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>) {
    try {
      return await this.client.send(new QueryCommand({ TableName: this.sessionsTable, ...input }));
    } catch (error) {
      throw translateDynamoError(error);
    }
  }

  private async write(command: PutCommand | DeleteCommand): Promise<void> {
    try {
      await this.client.send(command as PutCommand);
    } catch (error) {
      throw translateDynamoError(error);
    }
  }
}
