// Handler: the tenant's sessions, their messages, runs, and OpenAI-compatible chat completions
// (function `chat-api`).
import { cancelRun } from '../../core/chat/cancel-run';
import { createChatCompletion } from '../../core/chat/create-chat-completion';
import type { ChatDeps } from '../../core/chat/model';
import { loadSessionContext, type SessionHistory, sendMessage } from '../../core/chat/send-message';
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

/**
 * The prefetched session (null: the read found none), if the prefetch read this very tenant's session;
 * undefined when the use case must read it itself.
 */
const prefetchedSession = async (
  prefetched: Promise<Prefetched> | undefined,
  tenantId: string,
  sessionId: string,
): Promise<SessionHistory | null | undefined> => {
  const outcome = await prefetched;
  if (!outcome?.ok) return undefined;
  const read = outcome.value as
    | { tenantId: string; sessionId: string; loaded: SessionHistory | null }
    | undefined;
  return read?.tenantId === tenantId && read.sessionId === sessionId ? read.loaded : undefined;
};

const chatOf = async (deps: ChatApiDeps): Promise<ChatDeps> => {
  if (!deps.chat) throw new Error('chat-api: the chat routes need ChatApiDeps.chat');
  return deps.chat();
};

export const createChatApi = (
  deps: ChatApiDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store' | 'rateLimit'> = {},
) =>
  httpHandler(
    {
      createSession: ({ tenant, body }) => createSession(deps, tenant, body),
      listSessions: ({ tenant, query }) => listSessions(deps, tenant.id, query),
      getSession: ({ tenant, path }) => getSession(deps, tenant.id, path.id),
      deleteSession: ({ tenant, path }) => deleteSession(deps, tenant.id, path.id),
      listMessages: ({ tenant, path, query }) => listMessages(deps, tenant.id, path.id, query),
      getRun: ({ tenant, path }) => getRun(deps, tenant.id, path.id),
      cancelRun: ({ tenant, path }) => cancelRun(deps, tenant.id, path.id),
      sendMessage: async ({ tenant, path, body, meter, prefetched }) => {
        const loaded = await prefetchedSession(prefetched, tenant.id, path.id);
        const { status, result } = await sendMessage(await chatOf(deps), tenant, path.id, body, {
          ...(meter && { meter }),
          ...(loaded !== undefined && { loaded }),
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
      // it runs while the key is re-checked, so the re-check adds no round trip to the turn.
      prefetch: {
        sendMessage: async ({ tenantId, pathParameters }) => {
          const sessionId = SessionIdSchema.safeParse(pathParameters.id);
          if (!sessionId.success) return undefined;
          const loaded = await loadSessionContext(await chatOf(deps), tenantId, sessionId.data);
          return { tenantId, sessionId: sessionId.data, loaded: loaded ?? null };
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

const config = runtimeConfig();
export const handler = createChatApi(
  { ...sessionDeps(), tenants: tenantStore(), ledger: quotaLedger(), chat: chatDeps },
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins },
);
