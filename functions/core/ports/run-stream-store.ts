// Port: a run's stream on record: its event log (frames by seq, with a TTL), the connections subscribed
// to it, and the tenant's `client_request_id` claims that keep a repeated chat from starting a second run.
import type { RunStatus } from '../sessions/schemas';
import type { RunFrame } from '../streaming/frames';

export interface RunSubscription {
  readonly connectionId: string;
  /** The subscriber has (or is being sent) every frame up to this seq; it wants the ones after it. */
  readonly afterSeq: number;
}

/** What a streaming worker polls: the run's status (for cancels) and who listens (for resumes). */
export interface RunWatch {
  /** Undefined when the run is gone (deleted, or never written). */
  readonly status: RunStatus | undefined;
  readonly subscriptions: readonly RunSubscription[];
}

/**
 * Implementations keep every frame for a while after the run ends (a TTL: long enough to resume after a
 * dropped connection, not forever), and give `watch` in one read. Appends are conditional per seq, so two
 * writers never log the same seq: the loser gets `RunSeqConflictError` and renumbers.
 *
 * @example
 * const streams: RunStreamStore = new DynamoRunStreamStore(documentClient, sessionsTable, idempotencyTable);
 * await streams.append(tenantId, runId, [{ type: 'run.cancelled', run_id: runId, seq: 7 }]);
 * const missed = await streams.readAfter(tenantId, runId, 3); // frames 4..7, in order
 */
export interface RunStreamStore {
  /** Logs frames (seqs new to this run); all or none. */
  append(tenantId: string, runId: string, frames: readonly RunFrame[]): Promise<void>;
  /** Every logged frame with a seq above `afterSeq`, in seq order. */
  readAfter(tenantId: string, runId: string, afterSeq: number): Promise<RunFrame[]>;
  /** The frame with the highest seq, or undefined when nothing is logged. */
  last(tenantId: string, runId: string): Promise<RunFrame | undefined>;
  /** Subscribes a connection (again: replaces its `afterSeq`). Expires with the connection (2 h). */
  subscribe(tenantId: string, runId: string, subscription: RunSubscription): Promise<void>;
  unsubscribe(tenantId: string, runId: string, connectionId: string): Promise<void>;
  /** The run's status and its subscriptions, read consistently in one request. */
  watch(tenantId: string, runId: string): Promise<RunWatch>;
  /** The run a `client_request_id` already started, if any. */
  findRequest(tenantId: string, clientRequestId: string): Promise<string | undefined>;
  /** Claims `clientRequestId` for `runId`; when another run holds it, returns that run instead. */
  claimRequest(
    tenantId: string,
    clientRequestId: string,
    runId: string,
  ): Promise<{ readonly claimed: true } | { readonly claimed: false; readonly runId: string }>;
  /**
   * Puts a run that was failed by dead-lettering (`error.code` = `code`) back to `queued`, with its start
   * time and error cleared, so a redriven job runs it with a fresh time budget. False when the run is not
   * (or no longer) such a run.
   */
  reviveRun(tenantId: string, runId: string, code: string, nowSeconds: number): Promise<boolean>;
  /**
   * Undoes what accepting a chat wrote before the run itself failed to be written: the claim (if it is
   * still `runId`'s), the run's log and its subscriptions.
   */
  discard(tenantId: string, runId: string, clientRequestId?: string): Promise<void>;
}
