// Use case: the chat routes' prefetch, in one place: what a turn or a completion reads and takes beside
// the key's re-check (its early admission, under the tenant's remembered quotas), the operation's claim,
// and the undo when nothing claims it; with the remembered quotas and session bases it needs. One instance
// per container, made by the composition root (handlers/chat-api.ts); the middleware only calls `start`
// and, before the answer, the handle's `undo`.
// Vocabulary: docs/glossary.md (prefetch, early admission, claim, undo, remembered quotas, session base)
import type { z } from 'zod';
import type { SessionDeps } from '../sessions/model';
import { SessionIdSchema } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { earlyCompletionTokens, newCompletionId } from './create-chat-completion';
import {
  type AssumedQuotas,
  admitCompletionEarly,
  admitEarly,
  type EarlyAdmission,
  sessionTokenBase,
  undoEarlyAdmission,
} from './early-admission';
import { type ChatDeps, quotasOf } from './model';
import { ChatCompletionRequest, MAX_MESSAGE_CHARS, SendMessageRequest } from './schemas';
import { loadSessionContext, recoveryDelaySeconds, type SessionHistory } from './send-message';

/** Tenants whose quotas are remembered from their last metered request, at most (the oldest is forgotten first). */
const REMEMBERED_TENANTS = 1_024;
/** Sessions whose token base is remembered from their last inline turn here, at most (oldest forgotten first). */
const REMEMBERED_SESSIONS = 4_096;

/**
 * A completion body this long at most is parsed ahead (and so twice) to admit its call early: a chat
 * with some history. A longer one is admitted after validation, where its parse is the only one.
 */
const EARLY_COMPLETION_MAX_BODY_CHARS = 64 * 1024;

/** What the middleware knows of a request when it starts its prefetch: nothing of it is validated yet. */
interface PrefetchRequest {
  /** The route's operation id (`sendMessage`, `createChatCompletion`; others start nothing). */
  readonly operationId: string;
  /** The authorizer's tenant id: its key is being re-checked at the same time. */
  readonly tenantId: string;
  /** Untrusted, unvalidated. */
  readonly pathParameters: Readonly<Record<string, string | undefined>>;
  /**
   * The raw body as text (decoded when base64), undefined when there is none: read, before any await, only
   * by a route that prefetches.
   */
  readonly body: () => string | undefined;
}

/** What a turn's prefetch read and took while the key was re-checked. */
interface TurnPrefetch {
  readonly tenantId: string;
  readonly sessionId: string;
  /** The session and its history; null: there is none; undefined: the read failed. */
  readonly loaded: SessionHistory | null | undefined;
  readonly early: EarlyAdmission | undefined;
}

/** What a chat completion's prefetch took while the key was re-checked: its call's admission. */
interface CompletionPrefetch {
  readonly tenantId: string;
  readonly early: EarlyAdmission;
}

type Outcome<Value> = { readonly value: Value; readonly undo?: () => Promise<void> } | undefined;

/**
 * One request's prefetch, as `start` hands it to the middleware: settled at once, so one nobody awaits
 * (the key failed) never rejects unhandled; a failed one is as if nothing was read or taken.
 */
class Started<Value> {
  private readonly outcome: Promise<Outcome<Value>>;
  /** Until claimed or undone: after that, the middleware has nothing to give back. */
  private pending = true;

  constructor(
    readonly operationId: string,
    work: Promise<Outcome<Value>>,
  ) {
    this.outcome = work.catch(() => undefined);
  }

  /**
   * What the prefetch got, claimed if `matches` (the operation then gives back an early admission itself
   * if it does not go ahead on it); undefined, and left for `undo`, otherwise.
   */
  async claim(matches: (value: Value) => boolean): Promise<Value | undefined> {
    const outcome = await this.outcome;
    if (outcome === undefined || !matches(outcome.value)) return undefined;
    this.pending = false;
    return outcome.value;
  }

  /** Gives back what the prefetch took, unless the operation claimed it; once. */
  async undo(): Promise<void> {
    const outcome = await this.outcome;
    if (!this.pending || !outcome?.undo) return;
    this.pending = false;
    await outcome.undo();
  }
}

/** The handle `start` returns: the middleware awaits `undo` before the answer, whatever happened. */
interface PrefetchHandle {
  undo(): Promise<void>;
}

/** What a claimed turn hands to `sendMessage`, and tells back once it is answered. */
interface ClaimedTurn {
  /** `sendMessage`'s options from the prefetch: the session read, the early admission, the base's hook. */
  readonly options: {
    readonly loaded?: SessionHistory | null;
    readonly early?: EarlyAdmission;
    readonly onFirstStepTokens: (tokens: number) => void;
  };
  /** Remembers the session's base when the turn ended here with its answer (200). */
  answered(status: number, message: { readonly content: string | null } | undefined): void;
}

/** A map that keeps its `capacity` most recently set entries. */
const recentMap = <Value>(capacity: number) => {
  const entries = new Map<string, Value>();
  return {
    get: (key: string) => entries.get(key),
    set: (key: string, value: Value) => {
      entries.delete(key);
      entries.set(key, value);
      if (entries.size > capacity) entries.delete(entries.keys().next().value as string);
    },
    delete: (key: string) => entries.delete(key),
  };
};

/**
 * A raw body as `schema` takes it, if it is no longer than `maxChars` and valid; anything else is left
 * to the body middleware and validation, which answer it.
 */
const parsedBody = <Schema extends z.ZodType>(
  body: string | undefined,
  schema: Schema,
  maxChars: number,
): z.infer<Schema> | undefined => {
  if (body === undefined || body.length > maxChars) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
};

/**
 * The message of a body that would be sent inline (not async, no files), if it is one; anything else is
 * left to validation.
 */
const inlineContent = (body: string | undefined): string | undefined => {
  const request = parsedBody(body, SendMessageRequest, 8 * MAX_MESSAGE_CHARS);
  return request && !request.async && request.file_ids === undefined ? request.content : undefined;
};

const sessionKey = (tenantId: string, sessionId: string) => `${tenantId}/${sessionId}`;

interface ChatPrefetchDeps extends Pick<SessionDeps, 'settings'> {
  /** The chat's dependencies, resolved on first use (the LLM's key may be a secret). */
  readonly chat: () => ChatDeps | Promise<ChatDeps>;
}

/**
 * The chat routes' prefetch. A turn's first read (the session and its history) needs only the tenant id
 * and the session id: it runs while the key is re-checked, so the re-check adds no round trip to the turn.
 * So does its admission (tokens, the request's count, the run's slot) for an inline message from a tenant
 * seen before, under that tenant's last known quotas: undone unless the turn goes ahead on it. A
 * completion's admission likewise: its call's worst case, as its body states it, and the count.
 *
 * @example
 * const prefetch = new ChatPrefetch({ settings, chat: () => chatDeps() });
 * const handle = prefetch.start({ operationId: 'sendMessage', tenantId, pathParameters, body: () => raw });
 * // in the operation, once the key stands:
 * const turn = await prefetch.claimTurn(handle, tenant, sessionId);
 * const sent = await sendMessage(chat, tenant, sessionId, body, { ...turn.options });
 * turn.answered(sent.status, sent.result.message);
 * // in the middleware, before the answer, whatever happened:
 * await handle?.undo();
 */
export class ChatPrefetch {
  /**
   * Each tenant's quotas as the key re-check of its last turn or completion found them: the next one's
   * admission is taken under them beside the re-check, and kept only if the re-check finds them unchanged.
   */
  private readonly remembered;
  /**
   * Each session's token base after its last inline turn here (`sessionTokenBase`): the next turn's early
   * hold is then large enough for its history, and its first step does not grow it (one write fewer).
   */
  private readonly sessionBases;

  constructor(
    private readonly deps: ChatPrefetchDeps,
    sizes: { readonly tenants?: number; readonly sessions?: number } = {},
  ) {
    this.remembered = recentMap<AssumedQuotas>(sizes.tenants ?? REMEMBERED_TENANTS);
    this.sessionBases = recentMap<number>(sizes.sessions ?? REMEMBERED_SESSIONS);
  }

  /**
   * The hook the middleware calls beside the key's re-check: starts the route's prefetch, or nothing
   * (undefined) for a route without one. What it takes comes with an undo, as the key may turn out revoked.
   */
  start(request: PrefetchRequest): PrefetchHandle | undefined {
    if (request.operationId === 'sendMessage')
      return new Started(request.operationId, this.startTurn(request));
    if (request.operationId === 'createChatCompletion')
      return new Started(request.operationId, this.startCompletion(request));
    return undefined;
  }

  /**
   * The turn's prefetch, claimed if it was made for this tenant and session, and the tenant's quotas
   * remembered. Call it last before `sendMessage`: from then on the use case gives back what it took.
   */
  async claimTurn(
    handle: PrefetchHandle | undefined,
    tenant: TenantRecord,
    sessionId: string,
  ): Promise<ClaimedTurn> {
    const claimed =
      handle instanceof Started && handle.operationId === 'sendMessage'
        ? await (handle as Started<TurnPrefetch>).claim(
            (turn) => turn.tenantId === tenant.id && turn.sessionId === sessionId,
          )
        : undefined;
    this.remembered.set(tenant.id, quotasOf(this.deps, tenant));
    // Whatever this turn does, the session's base as it was is out of date (its prefetch has read it).
    const key = sessionKey(tenant.id, sessionId);
    this.sessionBases.delete(key);
    let firstStepTokens: number | undefined;
    return {
      options: {
        ...(claimed?.loaded !== undefined && { loaded: claimed.loaded }),
        ...(claimed?.early && { early: claimed.early }),
        onFirstStepTokens: (tokens) => {
          firstStepTokens = tokens;
        },
      },
      answered: (status, message) => {
        // Only a turn that ended here with its answer leaves a history whose size is known.
        if (status === 200 && message && firstStepTokens !== undefined)
          this.sessionBases.set(key, sessionTokenBase(firstStepTokens, message.content));
      },
    };
  }

  /**
   * The completion's early admission, claimed if it was taken for this tenant, and the tenant's quotas
   * remembered. Call it last before `createChatCompletion`: from then on the use case gives it back if it must.
   */
  async claimCompletion(
    handle: PrefetchHandle | undefined,
    tenant: TenantRecord,
  ): Promise<{ readonly early?: EarlyAdmission }> {
    const claimed =
      handle instanceof Started && handle.operationId === 'createChatCompletion'
        ? await (handle as Started<CompletionPrefetch>).claim((taken) => taken.tenantId === tenant.id)
        : undefined;
    this.remembered.set(tenant.id, quotasOf(this.deps, tenant));
    return claimed ? { early: claimed.early } : {};
  }

  private async startCompletion(request: PrefetchRequest): Promise<Outcome<CompletionPrefetch>> {
    const { tenantId } = request;
    const quotas = this.remembered.get(tenantId);
    const body = quotas && parsedBody(request.body(), ChatCompletionRequest, EARLY_COMPLETION_MAX_BODY_CHARS);
    if (!quotas || !body) return undefined;
    const chat = await this.deps.chat();
    const early = await admitCompletionEarly(chat, {
      tenantId,
      completionId: newCompletionId(),
      quotas,
      tokens: earlyCompletionTokens(body),
    });
    if (!early) return undefined;
    return { value: { tenantId, early }, undo: () => undoEarlyAdmission(chat, early) };
  }

  private async startTurn(request: PrefetchRequest): Promise<Outcome<TurnPrefetch>> {
    const { tenantId } = request;
    const sessionId = SessionIdSchema.safeParse(request.pathParameters.id);
    if (!sessionId.success) return undefined;
    const body = request.body();
    const chat = await this.deps.chat();
    const quotas = this.remembered.get(tenantId);
    const content = quotas && inlineContent(body);
    const sessionBase = this.sessionBases.get(sessionKey(tenantId, sessionId.data));
    const [loaded, early] = await Promise.all([
      loadSessionContext(chat, tenantId, sessionId.data).then(
        (read) => read ?? null,
        () => undefined,
      ),
      quotas && content !== undefined
        ? admitEarly(chat, {
            tenantId,
            runId: chat.ids.newId('run'),
            quotas,
            content,
            ...(sessionBase !== undefined && { sessionBase }),
            leaseSeconds: recoveryDelaySeconds(chat.timeouts),
          })
        : undefined,
    ]);
    const value: TurnPrefetch = { tenantId, sessionId: sessionId.data, loaded, early };
    return { value, ...(early && { undo: () => undoEarlyAdmission(chat, early) }) };
  }
}
