// Handler: the tenant's sessions, their messages, runs, and OpenAI-compatible chat completions
// (function `chat-api`).
import { cancelRun } from '../core/chat/cancel-run';
import { createChatCompletion } from '../core/chat/create-chat-completion';
import type { ChatDeps } from '../core/chat/model';
import { ChatPrefetch } from '../core/chat/prefetch';
import { sendMessage } from '../core/chat/send-message';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import type { TenantStore } from '../core/ports/tenant-store';
import { createSession } from '../core/sessions/create-session';
import { deleteSession } from '../core/sessions/delete-session';
import { getRun } from '../core/sessions/get-run';
import { getSession } from '../core/sessions/get-session';
import { listMessages } from '../core/sessions/list-messages';
import { listSessions } from '../core/sessions/list-sessions';
import type { SessionDeps } from '../core/sessions/model';
import { type HttpHandlerOptions, httpHandler } from '../middleware/http-handler';
import { HttpReply } from '../middleware/responses';
import { header } from '../middleware/types';
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

const chatOf = async (deps: ChatApiDeps): Promise<ChatDeps> => {
  if (!deps.chat) throw new Error('chat-api: the chat routes need ChatApiDeps.chat');
  return deps.chat();
};

export const createChatApi = (
  deps: ChatApiDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store' | 'rateLimit' | 'prefetch'> = {},
) => {
  // The early admissions' protocol (prefetch, claim, undo) and what it remembers, for this container.
  const prefetch = new ChatPrefetch({ settings: deps.settings, chat: () => chatOf(deps) });
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
        const chat = await chatOf(deps);
        // Claimed last: from here on the use case gives back what the prefetch took, if it must.
        const turn = await prefetch.claimTurn(prefetched, tenant, path.id);
        const { status, result } = await sendMessage(chat, tenant, path.id, body, {
          ...(meter && { meter }),
          ...turn.options,
        });
        turn.answered(status, result.message);
        return status === 200 ? result : HttpReply.json(status, result);
      },
      createChatCompletion: async ({ tenant, body, event, meter, prefetched }) => {
        const sessionId = header(event, 'x-session-id');
        const chat = await chatOf(deps);
        // Claimed last: from here on the use case gives back what the prefetch took, if it must.
        const { early } = await prefetch.claimCompletion(prefetched, tenant);
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
      // A turn's session read and early admission, a completion's early admission: see ChatPrefetch.
      prefetch,
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
