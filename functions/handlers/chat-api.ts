// Handler: the tenant's sessions, their messages, runs, and OpenAI-compatible chat completions
// (function `chat-api`).
import type { z } from 'zod';
import { cancelRun } from '../core/chat/cancel-run';
import {
  createChatCompletion,
  earlyCompletionTokens,
  newCompletionId,
} from '../core/chat/create-chat-completion';
import {
  type AssumedQuotas,
  admitCompletionEarly,
  admitEarly,
  type EarlyAdmission,
  sessionTokenBase,
  undoEarlyAdmission,
} from '../core/chat/early-admission';
import type { ChatDeps } from '../core/chat/model';
import { quotasOf } from '../core/chat/model';
import { ChatCompletionRequest, MAX_MESSAGE_CHARS, SendMessageRequest } from '../core/chat/schemas';
import {
  loadSessionContext,
  recoveryDelaySeconds,
  type SessionHistory,
  sendMessage,
} from '../core/chat/send-message';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import type { TenantStore } from '../core/ports/tenant-store';
import { createSession } from '../core/sessions/create-session';
import { deleteSession } from '../core/sessions/delete-session';
import { getRun } from '../core/sessions/get-run';
import { getSession } from '../core/sessions/get-session';
import { listMessages } from '../core/sessions/list-messages';
import { listSessions } from '../core/sessions/list-sessions';
import type { SessionDeps } from '../core/sessions/model';
import { SessionIdSchema } from '../core/sessions/schemas';
import { type HttpHandlerOptions, httpHandler } from '../middleware/http-handler';
import { HttpReply } from '../middleware/responses';
import { header, type Prefetched } from '../middleware/types';
import { invocationTracing } from '../observability/tracer';
import { runtimeConfig } from './wiring/config';
import { chatDeps } from './wiring/llm';
import { quotaLedger, sessionDeps, tenantStore } from './wiring/stores';

export interface ChatApiDeps extends SessionDeps {
  readonly tenants: TenantStore;
  /** Counts each request against `requests_per_minute`. */
  readonly ledger: QuotaLedger;
  /** The LLM, tools and queue behind the chat routes; resolved on first use (the key may be a secret). */
  readonly chat?: () => ChatDeps | Promise<ChatDeps>;
}

// The HTTP API buffers a Lambda's answer, so `stream: true` gets OpenAI's SSE framing all at once;
// live tokens are the WebSocket API's job.
const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' };

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

/**
 * What the operation's prefetch got, if it is for this very request (`matches`), claimed (the use case
 * then gives back an early admission itself if it does not go ahead on it); an empty object when it got
 * nothing usable.
 */
const claimPrefetched = async <Value extends object>(
  prefetched: Promise<Prefetched> | undefined,
  matches: (value: Value) => boolean,
): Promise<Partial<Value>> => {
  const outcome = await prefetched;
  if (!outcome?.ok) return {};
  const value = outcome.value as Value | undefined;
  if (value === undefined || !matches(value)) return {};
  outcome.claim();
  return value;
};

/** Tenants whose quotas are remembered from their last metered request, at most (the oldest is forgotten first). */
const REMEMBERED_TENANTS = 1_024;
/** Sessions whose token base is remembered from their last inline turn here, at most (oldest forgotten first). */
const REMEMBERED_SESSIONS = 4_096;

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

/**
 * A completion body this long at most is parsed ahead (and so twice) to admit its call early: a chat
 * with some history. A longer one is admitted after validation, where its parse is the only one.
 */
const EARLY_COMPLETION_MAX_BODY_CHARS = 64 * 1024;

const chatOf = async (deps: ChatApiDeps): Promise<ChatDeps> => {
  if (!deps.chat) throw new Error('chat-api: the chat routes need ChatApiDeps.chat');
  return deps.chat();
};

export const createChatApi = (
  deps: ChatApiDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store' | 'rateLimit'> = {},
) => {
  /**
   * Each tenant's quotas as the key re-check of its last turn or completion found them: the next one's
   * admission is taken under them beside the re-check, and kept only if the re-check finds them unchanged.
   */
  const remembered = recentMap<AssumedQuotas>(REMEMBERED_TENANTS);
  const remember = (tenantId: string, quotas: AssumedQuotas) => remembered.set(tenantId, quotas);
  /**
   * Each session's token base after its last inline turn here (`sessionTokenBase`): the next turn's early
   * hold is then large enough for its history, and its first step does not grow it (one write fewer).
   */
  const sessionBases = recentMap<number>(REMEMBERED_SESSIONS);
  const sessionKey = (tenantId: string, sessionId: string) => `${tenantId}/${sessionId}`;
  return httpHandler(
    {
      createSession: ({ tenant, body }) => createSession(deps, tenant, body),
      listSessions: ({ tenant, query }) => listSessions(deps, tenant.id, query),
      getSession: ({ tenant, path }) => getSession(deps, tenant.id, path.id),
      deleteSession: ({ tenant, path }) => deleteSession(deps, tenant.id, path.id),
      listMessages: ({ tenant, path, query }) => listMessages(deps, tenant.id, path.id, query),
      getRun: ({ tenant, path }) => getRun(deps, tenant.id, path.id),
      cancelRun: ({ tenant, path }) => cancelRun(deps, tenant.id, path.id),
      sendMessage: async ({ tenant, path, body, meter, prefetched }) => {
        const quotas = quotasOf(deps, tenant);
        const chat = await chatOf(deps);
        // Claimed last: from here on the use case gives back what the prefetch took, if it must.
        const { loaded, early } = await claimPrefetched<TurnPrefetch>(
          prefetched,
          (turn) => turn.tenantId === tenant.id && turn.sessionId === path.id,
        );
        remember(tenant.id, quotas);
        // Whatever this turn does, the session's base as it was is out of date (its prefetch has read it).
        const key = sessionKey(tenant.id, path.id);
        sessionBases.delete(key);
        let firstStepTokens: number | undefined;
        const { status, result } = await sendMessage(chat, tenant, path.id, body, {
          ...(meter && { meter }),
          ...(loaded !== undefined && { loaded }),
          ...(early && { early }),
          onFirstStepTokens: (tokens) => {
            firstStepTokens = tokens;
          },
        });
        // Only a turn that ended here with its answer leaves a history whose size is known.
        if (status === 200 && result.message && firstStepTokens !== undefined) {
          sessionBases.set(key, sessionTokenBase(firstStepTokens, result.message.content));
        }
        return status === 200 ? result : HttpReply.json(status, result);
      },
      createChatCompletion: async ({ tenant, body, event, meter, prefetched }) => {
        const sessionId = header(event, 'x-session-id');
        const quotas = quotasOf(deps, tenant);
        const chat = await chatOf(deps);
        // Claimed last: from here on the use case gives back what the prefetch took, if it must.
        const { early } = await claimPrefetched<CompletionPrefetch>(
          prefetched,
          (taken) => taken.tenantId === tenant.id,
        );
        remember(tenant.id, quotas);
        const answer = await createChatCompletion(chat, tenant, body, {
          ...(sessionId !== undefined && { sessionId }),
          ...(meter && { meter }),
          ...(early && { early }),
        });
        return answer.sse === undefined
          ? HttpReply.json(200, answer.completion, answer.headers)
          : new HttpReply(200, answer.sse, { ...SSE_HEADERS, ...answer.headers });
      },
    },
    {
      service: 'chat-api',
      store: deps.tenants,
      // A turn's first read (the session and its history) needs only the tenant id and the session id:
      // it runs while the key is re-checked, so the re-check adds no round trip to the turn. So does its
      // admission (tokens, the request's count, the run's slot) for an inline message from a tenant seen
      // before, under that tenant's last known quotas: undone unless the turn goes ahead on it. A
      // completion's admission likewise: its call's worst case, as its body states it, and the count.
      prefetch: {
        createChatCompletion: async ({ tenantId, body }) => {
          const quotas = remembered.get(tenantId);
          const request = quotas && parsedBody(body, ChatCompletionRequest, EARLY_COMPLETION_MAX_BODY_CHARS);
          if (!quotas || !request) return undefined;
          const chat = await chatOf(deps);
          const early = await admitCompletionEarly(chat, {
            tenantId,
            completionId: newCompletionId(),
            quotas,
            tokens: earlyCompletionTokens(request),
          });
          if (!early) return undefined;
          const value: CompletionPrefetch = { tenantId, early };
          return { value, undo: () => undoEarlyAdmission(chat, early) };
        },
        sendMessage: async ({ tenantId, pathParameters, body }) => {
          const sessionId = SessionIdSchema.safeParse(pathParameters.id);
          if (!sessionId.success) return undefined;
          const chat = await chatOf(deps);
          const quotas = remembered.get(tenantId);
          const content = quotas && inlineContent(body);
          const sessionBase = sessionBases.get(sessionKey(tenantId, sessionId.data));
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
        },
      },
      rateLimit: {
        ledger: deps.ledger,
        plans: deps.settings.tenants.plans,
        defaultPlan: deps.settings.tenants.defaultPlan,
        clock: deps.clock,
      },
      ...options,
    },
  );
};

const config = runtimeConfig();
export const handler = createChatApi(
  { ...sessionDeps(), tenants: tenantStore(), ledger: quotaLedger(), chat: chatDeps },
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins, tracing: invocationTracing() },
);
