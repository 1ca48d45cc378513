// Adapter: SessionStore on DynamoDB, with message bodies too large for an item kept in a BlobStore.
//   session  pk TENANT#<t>#SESSION#<s>  sk SESSION          gsi1pk TENANT#<t>#SESSIONS  gsi1sk <s>
//   message  pk TENANT#<t>#SESSION#<s>  sk MSG#<message id>  (ids sort in append order)
//   append   pk TENANT#<t>#SESSION#<s>  sk APPEND#<append id>  -> message_ids (at-most-once appends)
//   run ref  pk TENANT#<t>#SESSION#<s>  sk LINK#RUN#<run id> (so deleting the session finds its runs;
//            it sorts before MSG#, so the session item and its newest messages are one contiguous key
//            range that one Query reads. Refs written before that change are under RUN#<run id>.)
//            An append that writes a new run uses the run's ref as its append marker (append_id,
//            message_ids): one item fewer in the transaction that records a turn.
//   run      pk TENANT#<t>#RUN#<r>      sk RUN               (readable by run id alone, consistently)
// The tenant id is in every key, so another tenant's id is simply absent. A session being deleted carries
// `deleting` and has left the listing index; every write to it is conditioned on its absence.
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { decodeCursor, encodeCursor, type Page } from '../../core/pagination';
import type { BlobStore } from '../../core/ports/blob-store';
import type {
  AppendMessagesRequest,
  AppendMessagesResult,
  CreateRunOptions,
  OrderedPageRequest,
  RunChanges,
  SessionStore,
} from '../../core/ports/session-store';
import { DYNAMODB_UNPROCESSED, jitteredDelayMs } from '../../core/resilience/retry-policy';
import {
  MessageContentMissingError,
  RunNotFoundError,
  RunStateConflictError,
  SessionBusyError,
  SessionNotFoundError,
} from '../../core/sessions/errors';
import {
  type CompactionRequest,
  MESSAGE_ID_PATTERN,
  type MessageRecord,
  MessageResource,
  type RunRecord,
  RunResource,
  type RunStatus,
  RunStatusSchema,
  SESSION_ID_PATTERN,
  type SessionContextState,
  type SessionRecord,
  UsageSchema,
} from '../../core/sessions/schemas';
import { errorName, translateDynamoError } from './errors';
import { itemKey, parseItem } from './parse-item';
import { queryPage } from './query-page';
import {
  DynamoUnitOfWork,
  type TransactItem,
  UnitOfWorkCancelledError,
  type UnitOfWorkPart,
} from './unit-of-work';

type Item = Record<string, unknown>;

const SESSIONS_INDEX = 'gsi1';
/** Well under DynamoDB's 400 KB item limit, with room for the other attributes. */
const DEFAULT_INLINE_LIMIT_BYTES = 32 * 1024;
const BATCH_WRITE_SIZE = 25;

const sessionPk = (tenantId: string, sessionId: string) => `TENANT#${tenantId}#SESSION#${sessionId}`;
const sessionKey = (tenantId: string, sessionId: string) => ({
  pk: sessionPk(tenantId, sessionId),
  sk: 'SESSION',
});
const sessionsPartition = (tenantId: string) => `TENANT#${tenantId}#SESSIONS`;
const messageKey = (tenantId: string, sessionId: string, messageId: string) => ({
  pk: sessionPk(tenantId, sessionId),
  sk: `MSG#${messageId}`,
});
const appendKey = (tenantId: string, sessionId: string, appendId: string) => ({
  pk: sessionPk(tenantId, sessionId),
  sk: `APPEND#${appendId}`,
});
const runRefKey = (tenantId: string, sessionId: string, runId: string) => ({
  pk: sessionPk(tenantId, sessionId),
  sk: `LINK#RUN#${runId}`,
});
const LEGACY_RUN_REF = 'RUN#';
/** Runs whose partitions a session delete clears at once. */
const RUN_DELETE_CONCURRENCY = 4;
/** A run's partition: the run item, and (RunStreamStore) its event log and subscriptions. */
export const runPk = (tenantId: string, runId: string) => `TENANT#${tenantId}#RUN#${runId}`;
const runKey = (tenantId: string, runId: string) => ({ pk: runPk(tenantId, runId), sk: 'RUN' });

/** Where an offloaded message body lives: under its session, so deleting the session finds it by prefix. */
const sessionBlobPrefix = (tenantId: string, sessionId: string) =>
  `tenants/${tenantId}/sessions/${sessionId}/`;
export const messageBlobKey = (tenantId: string, sessionId: string, messageId: string) =>
  `${sessionBlobPrefix(tenantId, sessionId)}messages/${messageId}`;

// The items as stored, parsed at the edge (never cast): key attributes, `entity` and the other bookkeeping
// attributes are dropped by the parse; absences older writers left read as the values written since.
const SessionContextItemSchema = z.object({
  strategy: z.enum(['summarized', 'truncated']),
  summary: z.string().nullish().default(null),
  summarized_through: z.string().nullish().default(null),
  truncated_through: z.string().nullish().default(null),
  // `handled_through` (the later edge) is stored too: only conditions read it.
  updated_at: z.number(),
});
const SessionItemSchema = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  title: z.string().nullish().default(null),
  model: z.string(),
  system_prompt: z.string().nullish().default(null),
  tools: z.array(z.string()).nullish().default(null),
  metadata: z.record(z.string(), z.string()).default(() => ({})),
  created_at: z.number(),
  updated_at: z.number(),
  // Absent until the first append: the append condition tests for that.
  last_message_id: z.string().nullish().default(null),
  context: SessionContextItemSchema.optional(),
  compaction: z.object({ request_id: z.string(), before: z.string(), requested_at: z.number() }).optional(),
  deleting: z.boolean().optional(),
});
/** The body of a message: what is offloaded when it is too large for the item. */
const MessageBodySchema = z.object({
  content: z.string().nullish().default(null),
  tool_calls: MessageResource.shape.tool_calls,
});
type MessageBody = z.infer<typeof MessageBodySchema>;
/** An offloaded body, as the blob store returns it: JSON text of a `MessageBody`. */
const MessageBodyTextSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not JSON' });
      return z.NEVER;
    }
  })
  .pipe(MessageBodySchema);
const MessageItemSchema = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  session_id: z.string().min(1),
  role: MessageResource.shape.role,
  tool_call_id: z.string().optional(),
  run_id: z.string().optional(),
  created_at: z.number(),
  // Either the body inline, or where it was offloaded.
  ...MessageBodySchema.shape,
  body_key: z.string().min(1).optional(),
});
type MessageItem = z.infer<typeof MessageItemSchema>;
/** A step as stored may carry the token reservation it was charged through (see `RunStep`). */
const RunStepItemSchema = RunResource.shape.steps.element.extend({
  reservation: z.record(z.string(), z.unknown()).optional(),
});
const RunItemSchema = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  session_id: z.string().min(1),
  status: RunStatusSchema,
  model: z.string(),
  steps: z.array(RunStepItemSchema).default(() => []),
  usage: UsageSchema,
  error: RunResource.shape.error.optional().default(null),
  created_at: z.number(),
  updated_at: z.number(),
  // Absent until set, so `if_not_exists` keeps the first start time across redeliveries.
  started_at: z.number().nullish().default(null),
  completed_at: z.number().nullish().default(null),
});
/** An append's marker (or a run's ref that is one): the ids of the messages it wrote. */
const MarkerItemSchema = z.object({
  entity: z.string().optional(),
  append_id: z.string().optional(),
  message_ids: z.array(z.string()).default(() => []),
});
/** Only the key, as a projection or a range read sees it. */
const KeyItemSchema = z.looseObject({ pk: z.string(), sk: z.string() });

const laterOf = (a: string | null, b: string | null): string | null =>
  a === null ? b : b === null ? a : a > b ? a : b;

const toMessage = (
  { body_key, content, tool_calls, ...item }: MessageItem,
  body: MessageBody,
): MessageRecord => ({
  ...item,
  content: body.content,
  ...(body.tool_calls && { tool_calls: body.tool_calls }),
});

const withoutNulls = (record: object): Item =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null));

/** A conditional run transition: the fields set, the first start time kept, the status one of `from`. */
const runUpdate = (from: readonly RunStatus[], changes: RunChanges) => {
  const { started_at, ...rest } = changes;
  const fields = Object.entries(rest).filter(([, value]) => value !== undefined);
  const names: Record<string, string> = { '#status': 'status' };
  const values: Record<string, unknown> = {};
  const sets = fields.map(([name, value], index) => {
    names[`#f${index}`] = name;
    values[`:v${index}`] = value;
    return `#f${index} = :v${index}`;
  });
  if (started_at !== undefined) {
    names['#started'] = 'started_at';
    values[':started'] = started_at;
    sets.push('#started = if_not_exists(#started, :started)');
  }
  from.forEach((status, index) => {
    values[`:from${index}`] = status;
  });
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: `attribute_exists(pk) AND #status IN (${from.map((_, index) => `:from${index}`).join(', ')})`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DynamoSessionStoreOptions {
  /** Message bodies whose JSON is larger than this many bytes go to the blob store (default 32 KB). */
  inlineLimitBytes?: number;
}

/**
 * A write prepared for a unit of work: its bodies uploaded, its items ready to add. Whoever commits it
 * decides what else joins the transaction (`LedgeredSessionStore`: the step's settle, the run's slot).
 */
interface StagedSessionWrite<T> {
  readonly items: readonly TransactItem[];
  /** What the write returns once committed. */
  readonly result: T;
  /**
   * After the unit of work `items` were added to (as `part`) failed: the store's domain error, thrown,
   * or what an append already applied returns. The bodies uploaded for it are deleted first.
   */
  failed(error: unknown, part: UnitOfWorkPart): Promise<T>;
  /** Deletes the bodies uploaded for it, when it will not be committed. */
  discard(): Promise<void>;
}

export class DynamoSessionStore implements SessionStore {
  private readonly inlineLimitBytes: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly blobs: BlobStore,
    options: DynamoSessionStoreOptions = {},
  ) {
    this.inlineLimitBytes = options.inlineLimitBytes ?? DEFAULT_INLINE_LIMIT_BYTES;
  }

  async createSession(session: SessionRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...sessionKey(session.tenant_id, session.id),
            gsi1pk: sessionsPartition(session.tenant_id),
            gsi1sk: session.id,
            entity: 'session',
            // last_message_id stays absent until the first append: the append condition tests for that.
            ...withoutNulls(session),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') {
        throw new SessionBusyError(session.id, { cause: error });
      }
      throw translateDynamoError(error);
    }
  }

  async getSession(tenantId: string, sessionId: string): Promise<SessionRecord | undefined> {
    const item = await this.getSessionItem(tenantId, sessionId);
    return item && this.toSession(item);
  }

  async listSessions(tenantId: string, page: OrderedPageRequest): Promise<Page<SessionRecord>> {
    const afterId = page.cursor === undefined ? undefined : decodeCursor(page.cursor, SESSION_ID_PATTERN);
    return queryPage(
      this.client,
      {
        TableName: this.tableName,
        IndexName: SESSIONS_INDEX,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: { ':pk': sessionsPartition(tenantId) },
        ScanIndexForward: page.order === 'asc',
        // The start key is rebuilt from the validated id, never taken from the client.
        ...(afterId && {
          ExclusiveStartKey: {
            ...sessionKey(tenantId, afterId),
            gsi1pk: sessionsPartition(tenantId),
            gsi1sk: afterId,
          },
        }),
      },
      page.limit,
      // A session being deleted has left the index already; one caught mid-delete is left out all the same.
      async (items) => items.flatMap((item) => this.toSession(item) ?? []),
    );
  }

  async deleteSession(tenantId: string, sessionId: string): Promise<void> {
    try {
      // First leave the listing and refuse new writes; a delete interrupted after this point is finished
      // by the next one, because the flag is not a condition here.
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(tenantId, sessionId),
          UpdateExpression: 'SET #deleting = :true REMOVE #gpk, #gsk',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#deleting': 'deleting', '#gpk': 'gsi1pk', '#gsk': 'gsi1sk' },
          ExpressionAttributeValues: { ':true': true },
        }),
      );
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') {
        throw new SessionNotFoundError(sessionId, { cause: error });
      }
      throw translateDynamoError(error);
    }
    for await (const page of this.partitionKeyPages(sessionPk(tenantId, sessionId))) {
      const keys: Item[] = [];
      const runIds: string[] = [];
      for (const key of page) {
        const { sk } = key;
        if (sk === 'SESSION') continue;
        keys.push(key);
        if (sk.startsWith('LINK#RUN#')) runIds.push(sk.slice('LINK#RUN#'.length));
        if (sk.startsWith(LEGACY_RUN_REF)) runIds.push(sk.slice(LEGACY_RUN_REF.length));
      }
      // A run's partition holds the run and, for a streamed run, its event log (the answer's text) and
      // subscriptions: all of it goes with the session rather than waiting for the log's TTL. Runs first,
      // a page at a time, then the links that name them: a delete cut short is finished by the next one.
      for (let next = 0; next < runIds.length; next += RUN_DELETE_CONCURRENCY) {
        await Promise.all(
          runIds.slice(next, next + RUN_DELETE_CONCURRENCY).map(async (runId) => {
            for await (const runPage of this.partitionKeyPages(runPk(tenantId, runId))) {
              await this.batchDelete(runPage);
            }
          }),
        );
      }
      await this.batchDelete(keys);
    }
    await this.blobs.deletePrefix(sessionBlobPrefix(tenantId, sessionId));
    await this.guard(() =>
      this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: sessionKey(tenantId, sessionId) }),
      ),
    );
  }

  async listMessages(
    tenantId: string,
    sessionId: string,
    page: OrderedPageRequest,
    options: { readonly sessionChecked?: boolean } = {},
  ): Promise<Page<MessageRecord>> {
    const afterId = page.cursor === undefined ? undefined : decodeCursor(page.cursor, MESSAGE_ID_PATTERN);
    // Both reads at once: the session check costs no extra latency (and no read when the caller just made it).
    const [session, messages] = await Promise.all([
      options.sessionChecked ? true : this.getSession(tenantId, sessionId),
      queryPage(
        this.client,
        {
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          ExpressionAttributeValues: { ':pk': sessionPk(tenantId, sessionId), ':prefix': 'MSG#' },
          ScanIndexForward: page.order === 'asc',
          ConsistentRead: true,
          ...(afterId && { ExclusiveStartKey: messageKey(tenantId, sessionId, afterId) }),
        },
        page.limit,
        (items) => this.hydrateMessages(items),
      ),
    ]);
    if (!session) throw new SessionNotFoundError(sessionId);
    return messages;
  }

  async readSessionWithHistory(
    tenantId: string,
    sessionId: string,
    limit: number,
  ): Promise<{ session: SessionRecord; messages: Page<MessageRecord> } | undefined> {
    // Newest first from SESSION down through MSG#: the session item comes first, then its messages.
    let session: Item | undefined;
    const messages: Item[] = [];
    let startKey: Item | undefined;
    let first = true;
    do {
      const result = await this.guard(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
            ExpressionAttributeValues: {
              ':pk': sessionPk(tenantId, sessionId),
              ':from': 'MSG#',
              ':to': 'SESSION',
            },
            ScanIndexForward: false,
            ConsistentRead: true,
            // The session item, the page, and one more message so `has_more` is exact.
            Limit: limit + 2 - messages.length - (first ? 0 : 1),
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of result.Items ?? []) {
        const { sk } = this.parse(KeyItemSchema, item);
        if (sk === 'SESSION') session = item;
        else if (sk.startsWith('MSG#')) messages.push(item);
        // Anything else in the range is a run reference written before they moved under LINK#.
      }
      first = false;
      startKey = result.LastEvaluatedKey;
      if (!session) break;
    } while (startKey && messages.length <= limit);
    const record = session && this.toSession(session);
    if (!record) return undefined;
    const page = await this.hydrateMessages(messages.slice(0, limit));
    const last = page.at(-1);
    return {
      session: record,
      messages:
        messages.length > limit && last
          ? { items: page, nextCursor: encodeCursor(last.id) }
          : { items: page },
    };
  }

  /** The append alone, in a transaction of its own; `settle` and `releaseSlot` are left to the caller. */
  async appendMessages(request: AppendMessagesRequest): Promise<AppendMessagesResult> {
    const staged = await this.stageAppend(request);
    const uow = new DynamoUnitOfWork(this.client);
    const part = uow.add(staged.items);
    try {
      await uow.commit();
      return staged.result;
    } catch (error) {
      return staged.failed(error, part);
    }
  }

  /**
   * An append prepared for a unit of work: the session update, the marker, the messages, then the new run
   * or the run's transition. Its `settle` and `releaseSlot` are not among its items: they are the ledger's.
   */
  async stageAppend(request: AppendMessagesRequest): Promise<StagedSessionWrite<AppendMessagesResult>> {
    const { tenantId, sessionId, appendId } = request;
    if (request.newRun && request.runTransition) {
      throw new Error('DynamoSessionStore: an append writes a new run or transitions one, not both');
    }
    const { transactItems, offloaded, markerKey } = await this.prepareAppend(request, request.newRun);
    if (request.newRun) transactItems.push(this.newRunItem(request.newRun));
    const runIndex =
      request.runTransition && request.runTransition.from.length > 0 ? transactItems.length - 1 : -1;
    const discard = async () => {
      if (offloaded.length > 0) await this.blobs.deleteKeys(offloaded);
    };
    return {
      items: transactItems,
      result: {
        messages: request.messages,
        replayed: false,
        transitioned: request.runTransition !== undefined || request.newRun !== undefined,
      },
      discard,
      failed: async (error, part) => {
        // Nothing was written, so the bodies put for it belong to no message.
        await discard();
        const cancelled = error instanceof UnitOfWorkCancelledError ? error : undefined;
        const reasons = cancelled?.reasonsOf(part) ?? [];
        const failed = (index: number) => index >= 0 && reasons[index]?.code === 'ConditionalCheckFailed';
        if (failed(1)) {
          const replayed = await this.replayAppend(markerKey, tenantId, sessionId, appendId);
          if (replayed) return replayed;
        }
        const transition = request.runTransition;
        if (transition && failed(runIndex)) {
          const current = await this.getRun(tenantId, transition.runId);
          if (!current) throw new RunNotFoundError(transition.runId, { cause: error });
          throw new RunStateConflictError(transition.runId, current.status, transition.changes.status, {
            cause: error,
          });
        }
        if (failed(0)) {
          if (!(await this.getSession(tenantId, sessionId))) {
            throw new SessionNotFoundError(sessionId, { cause: error });
          }
          throw new SessionBusyError(sessionId, { cause: error });
        }
        if (cancelled?.conflicted) throw new SessionBusyError(sessionId, { cause: error });
        throw cancelled ? cancelled.cause : error;
      },
    };
  }

  /**
   * Uploads the bodies too large for an item, and returns the transaction items of the append: the session
   * update, the append's marker (the new run's ref when the append writes `newRun`), then the messages.
   */
  private async prepareAppend(
    request: AppendMessagesRequest,
    newRun?: RunRecord,
  ): Promise<{
    transactItems: TransactItem[];
    offloaded: string[];
    markerKey: Item;
  }> {
    const { tenantId, sessionId, appendId } = request;
    const uploads: { key: string; json: string }[] = [];
    const items: Item[] = request.messages.map((message) => {
      const { content, tool_calls, ...rest } = message;
      const body: MessageBody = { content, ...(tool_calls && { tool_calls }) };
      const json = JSON.stringify(body);
      const base = { ...messageKey(tenantId, sessionId, message.id), entity: 'message', ...rest };
      const bytes = Buffer.byteLength(json, 'utf8');
      if (bytes <= this.inlineLimitBytes) return { ...base, ...body };
      const key = messageBlobKey(tenantId, sessionId, message.id);
      uploads.push({ key, json });
      return { ...base, body_key: key, body_bytes: bytes };
    });
    const offloaded = uploads.map((upload) => upload.key);
    try {
      await Promise.all(uploads.map((upload) => this.blobs.put(upload.key, upload.json, 'application/json')));
    } catch (error) {
      // Some uploads may have landed; they belong to no message.
      await this.blobs.deleteKeys(offloaded).catch(() => undefined);
      throw error;
    }
    const last = request.messages.at(-1)?.id ?? request.expectedLastMessageId;
    const markerKey = newRun
      ? runRefKey(tenantId, sessionId, newRun.id)
      : appendKey(tenantId, sessionId, appendId);
    const marker = {
      ...markerKey,
      ...(newRun ? { entity: 'run_ref', run_id: newRun.id, append_id: appendId } : { entity: 'append' }),
      message_ids: request.messages.map((message) => message.id),
      created_at: request.updatedAt,
    };
    const transactItems: TransactItem[] = [
      {
        Update: {
          TableName: this.tableName,
          Key: sessionKey(tenantId, sessionId),
          UpdateExpression: 'SET #last = :last, #updated = :updated',
          ConditionExpression:
            request.expectedLastMessageId === null
              ? 'attribute_exists(pk) AND attribute_not_exists(#deleting) AND attribute_not_exists(#last)'
              : 'attribute_exists(pk) AND attribute_not_exists(#deleting) AND #last = :expected',
          ExpressionAttributeNames: {
            '#last': 'last_message_id',
            '#updated': 'updated_at',
            '#deleting': 'deleting',
          },
          ExpressionAttributeValues: {
            ':last': last,
            ':updated': request.updatedAt,
            ...(request.expectedLastMessageId !== null && {
              ':expected': request.expectedLastMessageId,
            }),
          },
        },
      },
      { Put: { TableName: this.tableName, Item: marker, ConditionExpression: 'attribute_not_exists(pk)' } },
      ...items.map((Item) => ({
        Put: { TableName: this.tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' },
      })),
    ];
    const transition = request.runTransition;
    if (transition && transition.from.length > 0) {
      transactItems.push({
        Update: {
          TableName: this.tableName,
          Key: runKey(tenantId, transition.runId),
          ...runUpdate(transition.from, transition.changes),
        },
      });
    }
    return { transactItems, offloaded, markerKey };
  }

  /** The run in a transaction of its own; a run with a slot needs the ledger's items too (`LedgeredSessionStore`). */
  async createRun(
    run: RunRecord,
    append?: AppendMessagesRequest,
    options: CreateRunOptions = {},
  ): Promise<void> {
    if (options.slot) throw new Error('DynamoSessionStore: a run slot is written by LedgeredSessionStore');
    const staged = await this.stageRun(run, append);
    const uow = new DynamoUnitOfWork(this.client);
    const part = uow.add(staged.items);
    try {
      await uow.commit();
    } catch (error) {
      await staged.failed(error, part);
    }
  }

  /**
   * A new run prepared for a unit of work: with `append`, its session update (conditioned on the session
   * and its last message) replaces the plain existence check, so the run and its first messages land in one
   * transaction or not at all.
   */
  async stageRun(run: RunRecord, append?: AppendMessagesRequest): Promise<StagedSessionWrite<void>> {
    const prepared = append ? await this.prepareAppend(append, run) : undefined;
    const sessionItems: TransactItem[] = prepared?.transactItems ?? [
      {
        ConditionCheck: {
          TableName: this.tableName,
          Key: sessionKey(run.tenant_id, run.session_id),
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#deleting)',
          ExpressionAttributeNames: { '#deleting': 'deleting' },
        },
      },
    ];
    const discard = async () => {
      if (prepared && prepared.offloaded.length > 0) await this.blobs.deleteKeys(prepared.offloaded);
    };
    return {
      items: [
        ...sessionItems,
        // With an append, the run's ref is already there, as the append's marker.
        ...(prepared ? [] : [this.runRefItem(run)]),
        this.newRunItem(run),
      ],
      result: undefined,
      discard,
      failed: async (error, part) => {
        await discard();
        const cancelled = error instanceof UnitOfWorkCancelledError ? error : undefined;
        if (cancelled?.reasonsOf(part)[0]?.code === 'ConditionalCheckFailed') {
          if (!append || !(await this.getSession(run.tenant_id, run.session_id))) {
            throw new SessionNotFoundError(run.session_id, { cause: error });
          }
        }
        // Any refused condition (the slot's too, refused alongside) or a concurrent write: try again.
        if (
          cancelled?.codes.some((code) => code === 'ConditionalCheckFailed' || code === 'TransactionConflict')
        ) {
          throw new SessionBusyError(run.session_id, { cause: error });
        }
        throw cancelled ? cancelled.cause : error;
      },
    };
  }

  /** A new run's item, only if absent. */
  private newRunItem(run: RunRecord): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...runKey(run.tenant_id, run.id), entity: 'run', ...withoutNulls(run) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  /** The session's reference to a run written without an append, only if absent. */
  private runRefItem(run: RunRecord): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...runRefKey(run.tenant_id, run.session_id, run.id), entity: 'run_ref', run_id: run.id },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  async getRun(tenantId: string, runId: string): Promise<RunRecord | undefined> {
    const { Item } = await this.guard(() =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: runKey(tenantId, runId), ConsistentRead: true }),
      ),
    );
    return Item ? this.parse(RunItemSchema, Item) : undefined;
  }

  async transitionRun(
    tenantId: string,
    runId: string,
    from: readonly RunStatus[],
    changes: RunChanges,
  ): Promise<RunRecord> {
    const conflict = async (cause?: unknown): Promise<never> => {
      const current = await this.getRun(tenantId, runId);
      if (!current) throw new RunNotFoundError(runId, { cause });
      throw new RunStateConflictError(runId, current.status, changes.status, { cause });
    };
    if (from.length === 0) return conflict();
    const update = runUpdate(from, changes);
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(tenantId, runId),
          ...update,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.parse(RunItemSchema, Attributes);
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return conflict(error);
      throw translateDynamoError(error);
    }
  }

  async requestCompaction(
    tenantId: string,
    sessionId: string,
    request: CompactionRequest,
    staleBefore: number,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(tenantId, sessionId),
          UpdateExpression: 'SET #compaction = :request',
          ConditionExpression:
            'attribute_exists(pk) AND attribute_not_exists(#deleting) AND ' +
            '(attribute_not_exists(#compaction) OR #compaction.#at < :stale)',
          ExpressionAttributeNames: {
            '#compaction': 'compaction',
            '#deleting': 'deleting',
            '#at': 'requested_at',
          },
          ExpressionAttributeValues: { ':request': { ...request }, ':stale': staleBefore },
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw translateDynamoError(error);
    }
  }

  async completeCompaction(
    tenantId: string,
    sessionId: string,
    requestId: string,
    context: SessionContextState | undefined,
  ): Promise<boolean> {
    const handled = context ? laterOf(context.summarized_through, context.truncated_through) : null;
    const names: Record<string, string> = {
      '#compaction': 'compaction',
      '#deleting': 'deleting',
      '#request': 'request_id',
    };
    const values: Record<string, unknown> = { ':request': requestId };
    let update = 'REMOVE #compaction';
    let condition = 'attribute_not_exists(#deleting) AND #compaction.#request = :request';
    if (context) {
      if (handled === null) throw new Error('DynamoSessionStore: a compaction handles at least one message');
      names['#context'] = 'context';
      names['#handled'] = 'handled_through';
      values[':context'] = { ...context, handled_through: handled };
      values[':handled'] = handled;
      update = `SET #context = :context ${update}`;
      // Never backward: the edge only moves forward, whatever order two workers finish in.
      condition += ' AND (attribute_not_exists(#context) OR #context.#handled < :handled)';
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(tenantId, sessionId),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw translateDynamoError(error);
    }
  }

  private async getSessionItem(tenantId: string, sessionId: string): Promise<Item | undefined> {
    const { Item } = await this.guard(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: sessionKey(tenantId, sessionId),
          ConsistentRead: true,
        }),
      ),
    );
    return Item;
  }

  /**
   * The messages a repeated append id wrote the first time, from its marker; undefined when the marker
   * belongs to another append (a run's ref written by a different append than this one).
   */
  private async replayAppend(
    markerKey: Item,
    tenantId: string,
    sessionId: string,
    appendId: string,
  ): Promise<AppendMessagesResult | undefined> {
    const { Item } = await this.guard(() =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: markerKey, ConsistentRead: true })),
    );
    const marker = Item && this.parse(MarkerItemSchema, Item);
    if (marker?.entity === 'run_ref' && marker.append_id !== appendId) return undefined;
    const ids = marker?.message_ids ?? [];
    const found = await this.batchGet(ids.map((id) => messageKey(tenantId, sessionId, id)));
    const byId = new Map(
      found.map((item) => this.parse(MessageItemSchema, item)).map((item) => [item.id, item]),
    );
    const ordered = ids.map((id) => byId.get(id)).filter((item) => item !== undefined);
    return { messages: await this.hydrate(ordered), replayed: true };
  }

  /** Parses the message items, then reads offloaded bodies back, in parallel, keeping the order. */
  private hydrateMessages(items: readonly Item[]): Promise<MessageRecord[]> {
    return this.hydrate(items.map((item) => this.parse(MessageItemSchema, item)));
  }

  private hydrate(items: readonly MessageItem[]): Promise<MessageRecord[]> {
    return Promise.all(
      items.map(async (item) => {
        if (item.body_key === undefined) return toMessage(item, item);
        const text = await this.blobs.getText(item.body_key);
        if (text === undefined) throw new MessageContentMissingError(item.id);
        const bodyKey = item.body_key;
        return toMessage(
          item,
          parseItem(MessageBodyTextSchema, text, 'files bucket', () => bodyKey),
        );
      }),
    );
  }

  /** The session, or undefined while it is being deleted. */
  private toSession(item: Item): SessionRecord | undefined {
    const { deleting, ...session } = this.parse(SessionItemSchema, item);
    return deleting === undefined ? session : undefined;
  }

  /** An item as `schema` reads it; a CorruptRecordError naming the table and key when it does not fit. */
  private parse<T>(schema: z.ZodType<T>, item: Item | undefined): T {
    return parseItem(schema, item, this.tableName, () => itemKey(item));
  }

  private async batchGet(keys: Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let start = 0; start < keys.length; start += 100) {
      let pending = keys.slice(start, start + 100);
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt >= DYNAMODB_UNPROCESSED.attempts) throw this.exhausted();
        if (attempt > 0) await sleep(jitteredDelayMs(DYNAMODB_UNPROCESSED, attempt, Math.random));
        const result = await this.guard(() =>
          this.client.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          ),
        );
        found.push(...(result.Responses?.[this.tableName] ?? []));
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  /** The item keys of one partition, a page at a time. */
  private async *partitionKeyPages(pk: string): AsyncGenerator<{ pk: string; sk: string }[]> {
    let startKey: Item | undefined;
    do {
      const result = await this.guard(() =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
            ExpressionAttributeValues: { ':pk': pk },
            ProjectionExpression: '#pk, #sk',
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      yield (result.Items ?? []).map((item) => {
        const { pk, sk } = this.parse(KeyItemSchema, item);
        return { pk, sk };
      });
      startKey = result.LastEvaluatedKey;
    } while (startKey);
  }

  /** BatchWrite in chunks of 25, asking again (with jittered back-off) for what DynamoDB left unprocessed. */
  private async batchDelete(keys: Item[]): Promise<void> {
    for (let start = 0; start < keys.length; start += BATCH_WRITE_SIZE) {
      let pending = keys.slice(start, start + BATCH_WRITE_SIZE).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt >= DYNAMODB_UNPROCESSED.attempts) throw this.exhausted();
        if (attempt > 0) await sleep(jitteredDelayMs(DYNAMODB_UNPROCESSED, attempt, Math.random));
        const result = await this.guard(() =>
          this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } })),
        );
        pending = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      }
    }
  }

  private exhausted(): unknown {
    return translateDynamoError(
      Object.assign(new Error('unprocessed items after retries'), { name: 'ThrottlingException' }),
    );
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateDynamoError(error);
    }
  }
}
