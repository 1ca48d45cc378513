// Handler: the tenant's sessions, their messages, runs, and OpenAI-compatible chat completions
// (function `chat-api`).
import { cancelRun } from '../../core/chat/cancel-run';
import { createChatCompletion } from '../../core/chat/create-chat-completion';
import {
  type AssumedQuotas,
  admitEarly,
  type EarlyAdmission,
  undoEarlyAdmission,
} from '../../core/chat/early-admission';
import type { ChatDeps } from '../../core/chat/model';
import { quotasOf } from '../../core/chat/model';
import { MAX_MESSAGE_CHARS, SendMessageRequest } from '../../core/chat/schemas';
import {
  loadSessionContext,
  recoveryDelaySeconds,
  type SessionHistory,
  sendMessage,
} from '../../core/chat/send-message';
import type { QuotaLedger } from '../../core/ports/quota-ledger';
import type { TenantStore } from '../../core/ports/tenant-store';
import { createSession } from '../../core/sessions/create-session';
import { deleteSession } from '../../core/sessions/delete-session';
import { getRun } from '../../core/sessions/get-run';
import { getSession } from '../../core/sessions/get-session';
import { listMessages } from '../../core/sessions/list-messages';
import { listSessions } from '../../core/sessions/list-sessions';
import type { SessionDeps } from '../../core/sessions/model';
import { SessionIdSchema } from '../../core/sessions/schemas';
import { type HttpHandlerOptions, httpHandler } from '../../middleware/http-handler';
import { HttpReply } from '../../middleware/responses';
import { header, type Prefetched } from '../../middleware/types';
import { chatDeps, quotaLedger, runtimeConfig, sessionDeps, tenantStore } from '../wiring';

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

/**
 * What the turn's prefetch got for this very tenant and session, claimed (the use case then gives back
 * the early admission itself if it does not go ahead on it); an empty object when it got nothing usable.
 */
const claimPrefetched = async (
  prefetched: Promise<Prefetched> | undefined,
  tenantId: string,
  sessionId: string,
): Promise<Partial<Pick<TurnPrefetch, 'loaded' | 'early'>>> => {
  const outcome = await prefetched;
  if (!outcome?.ok) return {};
  const turn = outcome.value as TurnPrefetch | undefined;
  if (turn?.tenantId !== tenantId || turn.sessionId !== sessionId) return {};
  outcome.claim();
  return turn;
};

/** Tenants whose quotas are remembered from their last turn, at most (the oldest is forgotten first). */
const REMEMBERED_TENANTS = 1_024;

/**
 * The message of a body that would be sent inline (not async, no files), if it is one; anything else is
 * left to validation.
 */
const inlineContent = (body: string | undefined): string | undefined => {
  if (body === undefined || body.length > 8 * MAX_MESSAGE_CHARS) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = SendMessageRequest.safeParse(json);
  return parsed.success && !parsed.data.async && parsed.data.file_ids === undefined
    ? parsed.data.content
    : undefined;
};

const chatOf = async (deps: ChatApiDeps): Promise<ChatDeps> => {
  if (!deps.chat) throw new Error('chat-api: the chat routes need ChatApiDeps.chat');
  return deps.chat();
};

export const createChatApi = (
  deps: ChatApiDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store' | 'rateLimit'> = {},
) => {
  /**
   * Each tenant's quotas as its last turn's key re-check found them: the next turn's admission is taken
   * under them beside its first reads, and kept only if the re-check finds them unchanged.
   */
  const remembered = new Map<string, AssumedQuotas>();
  const remember = (tenantId: string, quotas: AssumedQuotas) => {
    remembered.delete(tenantId);
    remembered.set(tenantId, quotas);
    if (remembered.size > REMEMBERED_TENANTS) remembered.delete(remembered.keys().next().value as string);
  };
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
        const { loaded, early } = await claimPrefetched(prefetched, tenant.id, path.id);
        remember(tenant.id, quotas);
        const { status, result } = await sendMessage(chat, tenant, path.id, body, {
          ...(meter && { meter }),
          ...(loaded !== undefined && { loaded }),
          ...(early && { early }),
        });
        return status === 200 ? result : HttpReply.json(status, result);
      },
      createChatCompletion: async ({ tenant, body, event, meter }) => {
        const sessionId = header(event, 'x-session-id');
        const answer = await createChatCompletion(await chatOf(deps), tenant, body, {
          ...(sessionId !== undefined && { sessionId }),
          ...(meter && { meter }),
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
      // before, under that tenant's last known quotas: undone unless the turn goes ahead on it.
      prefetch: {
        sendMessage: async ({ tenantId, pathParameters, body }) => {
          const sessionId = SessionIdSchema.safeParse(pathParameters.id);
          if (!sessionId.success) return undefined;
          const chat = await chatOf(deps);
          const quotas = remembered.get(tenantId);
          const content = quotas && inlineContent(body);
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
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins },
);
