// Port: persistence of sessions, their messages (in append order) and their runs, isolated per tenant.
import type { Page, PageRequest } from '../pagination';
import type {
  CompactionRequest,
  MessageRecord,
  RunRecord,
  RunStatus,
  SessionContextState,
  SessionRecord,
} from '../sessions/schemas';
import type { Hold, HoldRequest, ReleaseResult, SettleResult } from './quota-ledger';

/** A page request with a direction: `asc` is oldest first. */
export interface OrderedPageRequest extends PageRequest {
  readonly order: 'asc' | 'desc';
}

/** One atomic append. */
export interface AppendMessagesRequest {
  readonly tenantId: string;
  readonly sessionId: string;
  /** Caller-chosen and stable across retries (e.g. `<run id>:step-2`): the same id never appends twice. */
  readonly appendId: string;
  /** The session's `last_message_id` the new ids were chosen after; another append in between fails it. */
  readonly expectedLastMessageId: string | null;
  /** In order, with ids that sort after `expectedLastMessageId` and after each other. */
  readonly messages: readonly MessageRecord[];
  readonly updatedAt: number;
  /**
   * A run transition written in the same transaction (the agent loop's step: its messages and the run's
   * progress at once). Its status condition failing fails the whole append: `RunStateConflictError`.
   * A replayed append applies no transition (`transitioned` false): the caller applies it apart.
   */
  readonly runTransition?: RunTransition;
  /**
   * Instead of `runTransition`: the run itself, first written with these messages (an inline turn's
   * first step: the run, the user's message and the step land together, or nothing does). Its id must be
   * new; a replayed append writes nothing (`transitioned` false), as the first attempt wrote the run.
   */
  readonly newRun?: RunRecord;
  /**
   * The settle of the token hold whose call produced these messages, written in the same transaction
   * when the store can (the step and its charge land together, in one write). A store that cannot, or
   * an append that was replayed, leaves `settled` absent: the caller settles through the ledger.
   */
  readonly settle?: { readonly hold: Hold; readonly used: number };
  /** The run's concurrent-run slot, given back with its final step where the store can (see `settle`). */
  readonly releaseSlot?: Hold;
}

export interface CreateRunOptions {
  /**
   * The run's slot on the tenant's `concurrent_runs` gauge, held in the same write as the run: refused
   * (`QuotaExceededError`, 429), nothing is written.
   */
  readonly slot?: HoldRequest;
}

export interface RunTransition {
  readonly runId: string;
  readonly from: readonly RunStatus[];
  readonly changes: RunChanges;
}

export interface AppendMessagesResult {
  readonly messages: readonly MessageRecord[];
  /** True when this append id had already been applied: nothing was written this time. */
  readonly replayed: boolean;
  /** True when `runTransition` was applied (or `newRun` written) with the append. */
  readonly transitioned?: boolean;
  /** What became of `settle` when the store wrote it with the append (`not_held`: the hold was gone). */
  readonly settled?: SettleResult;
  /** What became of `releaseSlot` when the store wrote it with the append. */
  readonly slotReleased?: ReleaseResult;
}

/** The fields a run transition may set. */
export interface RunChanges {
  readonly status: RunStatus;
  readonly updated_at: number;
  readonly started_at?: number;
  readonly completed_at?: number;
  readonly steps?: RunRecord['steps'];
  readonly usage?: RunRecord['usage'];
  readonly error?: RunRecord['error'];
}

/**
 * Sessions, messages and runs. Every key includes the tenant id, so another tenant's id is simply
 * absent. Implementations translate their own failures into domain errors: `SessionNotFoundError`,
 * `RunNotFoundError`, `RunStateConflictError`, `SessionBusyError`, `InvalidCursorError`, and a 503
 * `UpstreamError` when the store is throttled. Every write is all or nothing; message content too large
 * for an item is kept elsewhere and read back without the caller noticing.
 *
 * @example
 * const store: SessionStore = new DynamoSessionStore(documentClient, tableName, new S3BlobStore(s3, bucket));
 * await store.createSession(record);
 * const page = await store.listMessages(tenantId, record.id, { limit: 20, order: 'asc' });
 * await store.deleteSession(tenantId, record.id); // messages, runs (event logs too) and offloaded content go too
 */
export interface SessionStore {
  /** Fails with `SessionBusyError` if the id exists (a retry gets a new id). */
  createSession(session: SessionRecord): Promise<void>;
  /** Undefined when absent, another tenant's, or being deleted. */
  getSession(tenantId: string, sessionId: string): Promise<SessionRecord | undefined>;
  listSessions(tenantId: string, page: OrderedPageRequest): Promise<Page<SessionRecord>>;
  /**
   * Removes the session, its messages, runs (with their event logs and subscriptions) and offloaded
   * content; `SessionNotFoundError` if absent.
   */
  deleteSession(tenantId: string, sessionId: string): Promise<void>;
  /**
   * Messages in append order (or reversed); the session must exist (`SessionNotFoundError`), which costs a
   * read of its own unless the caller has just read it (`sessionChecked`: a history's later pages).
   */
  listMessages(
    tenantId: string,
    sessionId: string,
    page: OrderedPageRequest,
    options?: { readonly sessionChecked?: boolean },
  ): Promise<Page<MessageRecord>>;
  /**
   * The session (undefined when absent or being deleted) with its first page of messages, newest first:
   * one read where `getSession` + `listMessages` take two. Continue with `listMessages` and the cursor.
   */
  readSessionWithHistory(
    tenantId: string,
    sessionId: string,
    limit: number,
  ): Promise<{ session: SessionRecord; messages: Page<MessageRecord> } | undefined>;
  /**
   * Appends all messages or none. A repeated `appendId` returns the first append's messages with
   * `replayed: true`; a stale `expectedLastMessageId` fails with `SessionBusyError`.
   */
  appendMessages(request: AppendMessagesRequest): Promise<AppendMessagesResult>;
  /**
   * The session must exist (`SessionNotFoundError`). With `append`, the run and those messages are
   * written in one transaction (a stale `expectedLastMessageId`: `SessionBusyError`, nothing written).
   */
  createRun(run: RunRecord, append?: AppendMessagesRequest, options?: CreateRunOptions): Promise<void>;
  getRun(tenantId: string, runId: string): Promise<RunRecord | undefined>;
  /**
   * The fence of a session's compaction: records `request` on the session, in one conditional write,
   * only if no other request is there or the one there was made before `staleBefore` (epoch seconds).
   * False when another request holds the fence (or the session is gone): the caller queues nothing.
   */
  requestCompaction(
    tenantId: string,
    sessionId: string,
    request: CompactionRequest,
    staleBefore: number,
  ): Promise<boolean>;
  /**
   * Ends the compaction `requestId` in one conditional write: stores `context` (when given) and lifts the
   * fence, only while that request holds it and only if `context` moves the handled edge forward (the
   * later of `summarized_through` and `truncated_through`). False when the condition failed: nothing written.
   */
  completeCompaction(
    tenantId: string,
    sessionId: string,
    requestId: string,
    context: SessionContextState | undefined,
  ): Promise<boolean>;
  /**
   * Applies the changes only if the run's status is one of `from`, atomically; `RunStateConflictError`
   * (with the current status) otherwise, `RunNotFoundError` if absent.
   */
  transitionRun(
    tenantId: string,
    runId: string,
    from: readonly RunStatus[],
    changes: RunChanges,
  ): Promise<RunRecord>;
}
