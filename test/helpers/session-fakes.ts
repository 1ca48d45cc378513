// Test helper: an in-memory SessionStore with the DynamoDB adapter's semantics, and session deps for tests.
import { decodeCursor, encodeCursor, type Page } from '../../functions/core/pagination';
import { randomIds } from '../../functions/core/ports/id-generator';
import type { QuotaLedger } from '../../functions/core/ports/quota-ledger';
import type {
  AppendMessagesRequest,
  AppendMessagesResult,
  CreateRunOptions,
  OrderedPageRequest,
  RunChanges,
  SessionStore,
} from '../../functions/core/ports/session-store';
import {
  RunNotFoundError,
  RunStateConflictError,
  SessionBusyError,
  SessionNotFoundError,
} from '../../functions/core/sessions/errors';
import type { SessionDeps, SessionSettings } from '../../functions/core/sessions/model';
import {
  type CompactionRequest,
  MESSAGE_ID_PATTERN,
  type MessageRecord,
  type RunRecord,
  type RunStatus,
  SESSION_ID_PATTERN,
  type SessionContextState,
  type SessionRecord,
} from '../../functions/core/sessions/schemas';
import { loadEvent, manualClock, settings as tenantSettings } from './tenant-fakes';

export const sessionSettings: SessionSettings = {
  tenants: tenantSettings,
  defaultModel: 'gpt-4o-mini',
  defaultTools: ['calculator', 'current_time'],
};

type Stored = SessionRecord & { deleting?: true };
const key = (tenantId: string, id: string) => `${tenantId}/${id}`;

export class InMemorySessionStore implements SessionStore {
  readonly sessions = new Map<string, Stored>();
  readonly messages = new Map<string, MessageRecord[]>();
  readonly appends = new Map<string, string[]>();
  readonly runs = new Map<string, RunRecord>();
  readonly calls: string[] = [];

  /** With a ledger, run slots are held and released through it, as the DynamoDB store does in its writes. */
  constructor(private readonly ledger?: QuotaLedger) {}

  async createSession(session: SessionRecord) {
    this.calls.push('createSession');
    const id = key(session.tenant_id, session.id);
    if (this.sessions.has(id)) throw new SessionBusyError(session.id);
    this.sessions.set(id, structuredClone(session));
    this.messages.set(id, []);
  }

  async getSession(tenantId: string, sessionId: string) {
    this.calls.push('getSession');
    const session = this.sessions.get(key(tenantId, sessionId));
    if (!session || session.deleting) return undefined;
    const { deleting: _, ...record } = structuredClone(session);
    return record;
  }

  async listSessions(tenantId: string, page: OrderedPageRequest) {
    this.calls.push('listSessions');
    const mine = [...this.sessions.values()].filter((s) => s.tenant_id === tenantId && !s.deleting);
    return this.page(mine, page, SESSION_ID_PATTERN);
  }

  async deleteSession(tenantId: string, sessionId: string) {
    this.calls.push('deleteSession');
    const id = key(tenantId, sessionId);
    if (!this.sessions.has(id)) throw new SessionNotFoundError(sessionId);
    this.sessions.delete(id);
    this.messages.delete(id);
    for (const appendKey of [...this.appends.keys()])
      if (appendKey.startsWith(`${id}#`)) this.appends.delete(appendKey);
    for (const [runId, run] of [...this.runs])
      if (run.tenant_id === tenantId && run.session_id === sessionId) this.runs.delete(runId);
  }

  async listMessages(
    tenantId: string,
    sessionId: string,
    page: OrderedPageRequest,
    options: { readonly sessionChecked?: boolean } = {},
  ) {
    this.calls.push(options.sessionChecked ? 'listMessages(sessionChecked)' : 'listMessages');
    const id = key(tenantId, sessionId);
    const session = this.sessions.get(id);
    if (!options.sessionChecked && (!session || session.deleting)) throw new SessionNotFoundError(sessionId);
    return this.page(this.messages.get(id) ?? [], page, MESSAGE_ID_PATTERN);
  }

  async readSessionWithHistory(tenantId: string, sessionId: string, limit: number) {
    this.calls.push('readSessionWithHistory');
    const session = this.sessions.get(key(tenantId, sessionId));
    if (!session || session.deleting) return undefined;
    const { deleting: _, ...record } = structuredClone(session);
    const messages = this.page(
      this.messages.get(key(tenantId, sessionId)) ?? [],
      { limit, order: 'desc' },
      MESSAGE_ID_PATTERN,
    );
    return { session: record, messages };
  }

  async appendMessages(request: AppendMessagesRequest): Promise<AppendMessagesResult> {
    this.calls.push('appendMessages');
    const id = key(request.tenantId, request.sessionId);
    const marker = this.appends.get(`${id}#${request.appendId}`);
    if (marker) {
      const all = this.messages.get(id) ?? [];
      return {
        messages: marker.map((messageId) =>
          structuredClone(all.find((m) => m.id === messageId) as MessageRecord),
        ),
        replayed: true,
      };
    }
    const session = this.sessions.get(id);
    if (!session || session.deleting) throw new SessionNotFoundError(request.sessionId);
    if (session.last_message_id !== request.expectedLastMessageId)
      throw new SessionBusyError(request.sessionId);
    const transition = request.runTransition;
    if (transition) {
      // All or nothing, like the transaction: the run's condition is checked before anything is written.
      const run = this.runs.get(key(request.tenantId, transition.runId));
      if (!run) throw new RunNotFoundError(transition.runId);
      if (!transition.from.includes(run.status))
        throw new RunStateConflictError(transition.runId, run.status, transition.changes.status);
    }
    const { newRun } = request;
    if (newRun && transition) {
      throw new Error('InMemorySessionStore: an append writes a new run or transitions one, not both');
    }
    if (newRun && this.runs.has(key(newRun.tenant_id, newRun.id))) {
      throw new Error(`InMemorySessionStore: run ${newRun.id} exists`);
    }
    this.writeAppend(request);
    if (newRun) this.runs.set(key(newRun.tenant_id, newRun.id), structuredClone(newRun));
    if (transition) {
      this.calls.pop();
      await this.transitionRun(request.tenantId, transition.runId, transition.from, transition.changes);
      this.calls.pop();
      this.calls.push('appendMessages');
    }
    const slotReleased =
      request.releaseSlot && this.ledger ? await this.ledger.release(request.releaseSlot) : undefined;
    return {
      messages: request.messages,
      replayed: false,
      transitioned: transition !== undefined || newRun !== undefined,
      ...(slotReleased && { slotReleased }),
    };
  }

  private writeAppend(request: AppendMessagesRequest) {
    const id = key(request.tenantId, request.sessionId);
    const session = this.sessions.get(id) as SessionRecord;
    this.messages.get(id)?.push(...structuredClone([...request.messages]));
    this.appends.set(
      `${id}#${request.appendId}`,
      request.messages.map((m) => m.id),
    );
    session.last_message_id = request.messages.at(-1)?.id ?? session.last_message_id;
    session.updated_at = request.updatedAt;
  }

  async createRun(run: RunRecord, append?: AppendMessagesRequest, options: CreateRunOptions = {}) {
    this.calls.push('createRun');
    const session = this.sessions.get(key(run.tenant_id, run.session_id));
    if (!session || session.deleting) throw new SessionNotFoundError(run.session_id);
    if (append) {
      // All or nothing, like the transaction: the append's checks come before any write.
      if (this.appends.has(`${key(append.tenantId, append.sessionId)}#${append.appendId}`))
        throw new SessionBusyError(run.session_id);
      if (session.last_message_id !== append.expectedLastMessageId)
        throw new SessionBusyError(run.session_id);
      if (this.runs.has(key(run.tenant_id, run.id))) throw new SessionBusyError(run.session_id);
    }
    // The slot last among the checks: refused, nothing is written.
    if (options.slot && this.ledger) await this.ledger.hold(options.slot);
    if (append) this.writeAppend(append);
    this.runs.set(key(run.tenant_id, run.id), structuredClone(run));
  }

  async getRun(tenantId: string, runId: string) {
    this.calls.push('getRun');
    const run = this.runs.get(key(tenantId, runId));
    return run && structuredClone(run);
  }

  async transitionRun(tenantId: string, runId: string, from: readonly RunStatus[], changes: RunChanges) {
    this.calls.push('transitionRun');
    const run = this.runs.get(key(tenantId, runId));
    if (!run) throw new RunNotFoundError(runId);
    if (!from.includes(run.status)) throw new RunStateConflictError(runId, run.status, changes.status);
    const { started_at, ...rest } = changes;
    Object.assign(run, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
    if (started_at !== undefined) run.started_at ??= started_at;
    return structuredClone(run);
  }

  async requestCompaction(
    tenantId: string,
    sessionId: string,
    request: CompactionRequest,
    staleBefore: number,
  ) {
    this.calls.push('requestCompaction');
    const session = this.sessions.get(key(tenantId, sessionId));
    if (!session || session.deleting) return false;
    if (session.compaction && session.compaction.requested_at >= staleBefore) return false;
    session.compaction = { ...request };
    return true;
  }

  async completeCompaction(
    tenantId: string,
    sessionId: string,
    requestId: string,
    context: SessionContextState | undefined,
  ) {
    this.calls.push('completeCompaction');
    const session = this.sessions.get(key(tenantId, sessionId));
    if (!session || session.deleting || session.compaction?.request_id !== requestId) return false;
    if (context) {
      const later = (a: string | null | undefined, b: string | null | undefined) =>
        [a ?? '', b ?? ''].sort().at(-1) as string;
      const handled = later(context.summarized_through, context.truncated_through);
      const current = later(session.context?.summarized_through, session.context?.truncated_through);
      if (session.context && current >= handled) return false;
      session.context = { ...context };
    }
    delete session.compaction;
    return true;
  }

  private page<T extends { id: string }>(
    all: readonly T[],
    request: OrderedPageRequest,
    pattern: RegExp,
  ): Page<T> {
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, pattern);
    const direction = request.order === 'asc' ? 1 : -1;
    const sorted = [...all]
      .sort((a, b) => (a.id < b.id ? -direction : direction))
      .filter((item) => !after || (direction === 1 ? item.id > after : item.id < after));
    const items = sorted.slice(0, request.limit).map((item) => structuredClone(item));
    const last = items.at(-1);
    return sorted.length > request.limit && last ? { items, nextCursor: encodeCursor(last.id) } : { items };
  }
}

export const sessionDeps = (
  store = new InMemorySessionStore(),
  clock = manualClock(),
): SessionDeps & { store: InMemorySessionStore; clock: ReturnType<typeof manualClock> } => ({
  store,
  clock,
  ids: randomIds(clock),
  settings: sessionSettings,
});

/** The session and run the chat-api sample events name, so `get-session` and `get-run` find them. */
export const seedSampleSession = async (store: InMemorySessionStore) => {
  const event = loadEvent('chat-api', 'get-run');
  const tenantId = event.requestContext.authorizer.lambda.tenantId as string;
  const runId = event.pathParameters.id as string;
  const sessionId = loadEvent('chat-api', 'get-session').pathParameters.id as string;
  const created_at = Math.floor(Date.UTC(2026, 10, 21, 9, 35) / 1000);
  await store.createSession({
    id: sessionId,
    tenant_id: tenantId,
    title: 'Order 1042',
    model: 'gpt-4o-mini',
    system_prompt: 'You are a helpful support agent.',
    tools: null,
    metadata: { customer: 'c_981' },
    created_at,
    updated_at: created_at,
    last_message_id: null,
  });
  await store.createRun({
    id: runId,
    tenant_id: tenantId,
    session_id: sessionId,
    status: 'completed',
    model: 'gpt-4o-mini',
    steps: [
      {
        index: 0,
        type: 'message_creation',
        usage: { prompt_tokens: 42, completion_tokens: 9, total_tokens: 51 },
        created_at,
      },
    ],
    usage: { prompt_tokens: 42, completion_tokens: 9, total_tokens: 51 },
    error: null,
    created_at,
    updated_at: created_at,
    started_at: created_at,
    completed_at: created_at,
  });
  return { tenantId, sessionId, runId };
};
