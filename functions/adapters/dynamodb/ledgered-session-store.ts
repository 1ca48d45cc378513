// Adapter: a SessionStore whose writes carry the quota ledger's items in the same unit of work, where a
// function may write both tables. This is where the transactions of a turn are decided: a step's append
// with its settle (and, on the last step, the slot's release), and a new run with its slot: one
// TransactWriteItems each, as before; neither store holds the other. Vocabulary: docs/glossary.md
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Page } from '../../core/pagination';
import type { ReleaseResult, SettleResult } from '../../core/ports/quota-ledger';
import type {
  AppendMessagesRequest,
  AppendMessagesResult,
  CreateRunOptions,
  OrderedPageRequest,
  RunChanges,
  SessionStore,
} from '../../core/ports/session-store';
import type {
  CompactionRequest,
  MessageRecord,
  RunRecord,
  RunStatus,
  SessionContextState,
  SessionRecord,
} from '../../core/sessions/schemas';
import type { DynamoQuotaLedger } from './quota-ledger';
import type { DynamoSessionStore } from './session-store';
import { DynamoUnitOfWork, UnitOfWorkCancelledError, type UnitOfWorkPart } from './unit-of-work';

/** A refused slot reclaims crashed runs' slots and tries again, at most this often. */
const MAX_SLOT_RECLAIMS = 2;

const holdGone = (cancelled: UnitOfWorkCancelledError, part: UnitOfWorkPart | undefined): boolean =>
  part !== undefined && cancelled.reasonsOf(part)[0]?.code === 'ConditionalCheckFailed';

/**
 * The session store, with `settle`, `releaseSlot` and a run's `slot` written by the ledger into the same
 * unit of work; everything else is the session store's alone.
 *
 * @example
 * const sessions: SessionStore = new LedgeredSessionStore(
 *   documentClient,
 *   new DynamoSessionStore(documentClient, sessionsTable, blobs),
 *   new DynamoQuotaLedger(documentClient, quotasTable),
 * );
 */
export class LedgeredSessionStore implements SessionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly sessions: DynamoSessionStore,
    private readonly ledger: DynamoQuotaLedger,
  ) {}

  /**
   * The step, its settle and the slot's release in one transaction. A hold alone refused was gone
   * (settled or released by an earlier attempt, or reclaimed after its lease): the step is recorded all
   * the same, without what no longer applies, and says so (`not_held`).
   */
  async appendMessages(request: AppendMessagesRequest): Promise<AppendMessagesResult> {
    if (!request.settle && !request.releaseSlot) return this.sessions.appendMessages(request);
    const staged = await this.sessions.stageAppend(request);
    let { settle, releaseSlot } = request;
    const gone: { settled?: SettleResult; slotReleased?: ReleaseResult } = {};
    for (;;) {
      const uow = new DynamoUnitOfWork(this.client);
      const step = uow.add(staged.items);
      const charge = settle && this.ledger.settleIn(uow, settle.hold, settle.used);
      const release = releaseSlot && this.ledger.releaseIn(uow, releaseSlot);
      try {
        await uow.commit();
        return {
          ...staged.result,
          ...gone,
          ...(charge && { settled: charge.settled }),
          ...(release && { slotReleased: { status: 'released' as const } }),
        };
      } catch (error) {
        const holds = [charge?.part, release].filter((part) => part !== undefined);
        if (
          error instanceof UnitOfWorkCancelledError &&
          holds.some((part) => holdGone(error, part)) &&
          error.refusedOnly(...holds)
        ) {
          if (holdGone(error, charge?.part)) {
            settle = undefined;
            gone.settled = { status: 'not_held' };
          }
          if (holdGone(error, release)) {
            releaseSlot = undefined;
            gone.slotReleased = { status: 'not_held' };
          }
          continue;
        }
        return staged.failed(error, step);
      }
    }
  }

  /**
   * The run and its slot in one transaction. The slot alone refused: crashed runs' slots are reclaimed and
   * the write tried again, or the run is refused (`QuotaExceededError`, 429); a slot already held under
   * this run's id (its earlier attempt) is the run's, so the run is written without it.
   */
  async createRun(
    run: RunRecord,
    append?: AppendMessagesRequest,
    options: CreateRunOptions = {},
  ): Promise<void> {
    const { slot } = options;
    if (!slot) return this.sessions.createRun(run, append);
    const staged = await this.sessions.stageRun(run, append);
    let withSlot = true;
    for (let reclaims = 0; ; ) {
      const uow = new DynamoUnitOfWork(this.client);
      const part = uow.add(staged.items);
      const held = withSlot ? this.ledger.holdIn(uow, slot) : undefined;
      try {
        await uow.commit();
        return;
      } catch (error) {
        if (
          !(
            error instanceof UnitOfWorkCancelledError &&
            holdGone(error, held) &&
            held &&
            error.refusedOnly(held)
          )
        ) {
          return staged.failed(error, part);
        }
        try {
          const verdict = await this.ledger.afterRefusedHold(slot, error.reasonsOf(held)[0]?.item, {
            mayReclaim: reclaims < MAX_SLOT_RECLAIMS,
          });
          if (verdict === 'held') withSlot = false;
          else reclaims += 1;
        } catch (refused) {
          await staged.discard();
          throw refused;
        }
      }
    }
  }

  createSession(session: SessionRecord): Promise<void> {
    return this.sessions.createSession(session);
  }

  getSession(tenantId: string, sessionId: string): Promise<SessionRecord | undefined> {
    return this.sessions.getSession(tenantId, sessionId);
  }

  listSessions(tenantId: string, page: OrderedPageRequest): Promise<Page<SessionRecord>> {
    return this.sessions.listSessions(tenantId, page);
  }

  deleteSession(tenantId: string, sessionId: string): Promise<void> {
    return this.sessions.deleteSession(tenantId, sessionId);
  }

  listMessages(
    tenantId: string,
    sessionId: string,
    page: OrderedPageRequest,
    options?: { readonly sessionChecked?: boolean },
  ): Promise<Page<MessageRecord>> {
    return this.sessions.listMessages(tenantId, sessionId, page, options);
  }

  readSessionWithHistory(
    tenantId: string,
    sessionId: string,
    limit: number,
  ): Promise<{ session: SessionRecord; messages: Page<MessageRecord> } | undefined> {
    return this.sessions.readSessionWithHistory(tenantId, sessionId, limit);
  }

  getRun(tenantId: string, runId: string): Promise<RunRecord | undefined> {
    return this.sessions.getRun(tenantId, runId);
  }

  requestCompaction(
    tenantId: string,
    sessionId: string,
    request: CompactionRequest,
    staleBefore: number,
  ): Promise<boolean> {
    return this.sessions.requestCompaction(tenantId, sessionId, request, staleBefore);
  }

  completeCompaction(
    tenantId: string,
    sessionId: string,
    requestId: string,
    context: SessionContextState | undefined,
  ): Promise<boolean> {
    return this.sessions.completeCompaction(tenantId, sessionId, requestId, context);
  }

  transitionRun(
    tenantId: string,
    runId: string,
    from: readonly RunStatus[],
    changes: RunChanges,
  ): Promise<RunRecord> {
    return this.sessions.transitionRun(tenantId, runId, from, changes);
  }
}
