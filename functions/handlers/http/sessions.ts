// Handler: the tenant's sessions, their messages, and runs (function `chat-api`).
import type { QuotaLedger } from '../../core/ports/quota-ledger';
import type { TenantStore } from '../../core/ports/tenant-store';
import { createSession } from '../../core/sessions/create-session';
import { deleteSession } from '../../core/sessions/delete-session';
import { getRun } from '../../core/sessions/get-run';
import { getSession } from '../../core/sessions/get-session';
import { listMessages } from '../../core/sessions/list-messages';
import { listSessions } from '../../core/sessions/list-sessions';
import type { SessionDeps } from '../../core/sessions/model';
import { type HttpHandlerOptions, httpHandler } from '../../middleware/http-handler';
import { quotaLedger, runtimeConfig, sessionDeps, tenantStore } from '../wiring';

export interface ChatApiDeps extends SessionDeps {
  readonly tenants: TenantStore;
  /** Counts each request against `requests_per_minute`. */
  readonly ledger: QuotaLedger;
}

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
    },
    {
      service: 'chat-api',
      store: deps.tenants,
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
  { ...sessionDeps(), tenants: tenantStore(), ledger: quotaLedger() },
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins },
);
