// Handler: the tenant's own routes: its models and its usage (function `account-api`).
import { issueWsTicket } from '../core/connections/issue-ws-ticket';
import type { Clock } from '../core/ports/clock';
import { systemClock } from '../core/ports/clock';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import type { TenantStore } from '../core/ports/tenant-store';
import type { TicketStore } from '../core/ports/ticket-store';
import type { UsageReader } from '../core/ports/usage-reader';
import { getUsage } from '../core/quotas/get-usage';
import { listModels } from '../core/tenants/list-models';
import type { TenantSettings } from '../core/tenants/model';
import { type HttpHandlerOptions, httpHandler, type Operation } from '../middleware/http-handler';
import { invocationTracing } from '../observability/tracer';
import { runtimeConfig, tenantSettings } from './wiring/config';
import { quotaLedger, tenantStore, ticketStore, usageReader } from './wiring/stores';

export interface AccountDeps {
  readonly store: TenantStore;
  readonly usage: UsageReader;
  /** Counts each request against `requests_per_minute`. */
  readonly ledger: QuotaLedger;
  readonly clock: Clock;
  readonly settings: TenantSettings;
  /** Where `POST /v1/ws-tickets` keeps its single-use tickets; the route is served only when given. */
  readonly tickets?: TicketStore;
}

const createWsTicketOperation =
  (tickets: TicketStore, clock: Clock): Operation<'createWsTicket'> =>
  ({ tenant, principal }) => {
    // A tenant route only runs for a tenant principal; the narrowing is for the type checker.
    if (principal.principal !== 'tenant') throw new Error('createWsTicket reached without a tenant key');
    return issueWsTicket({ tickets, clock }, { tenantId: tenant.id, keyId: principal.keyId });
  };

export const createAccountApi = (
  deps: AccountDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store' | 'rateLimit'> = {},
) =>
  httpHandler(
    {
      listModels: ({ tenant }) => listModels(tenant, deps.settings),
      getUsage: ({ tenant }) =>
        getUsage(
          {
            usage: deps.usage,
            clock: deps.clock,
            plans: deps.settings.plans,
            defaultPlan: deps.settings.defaultPlan,
          },
          tenant,
        ),
      ...(deps.tickets && {
        createWsTicket: createWsTicketOperation(deps.tickets, deps.clock),
      }),
    },
    {
      service: 'account-api',
      store: deps.store,
      rateLimit: {
        ledger: deps.ledger,
        plans: deps.settings.plans,
        defaultPlan: deps.settings.defaultPlan,
        clock: deps.clock,
      },
      ...options,
    },
  );

const config = runtimeConfig();
export const handler = createAccountApi(
  {
    store: tenantStore(),
    usage: usageReader(),
    ledger: quotaLedger(),
    clock: systemClock,
    settings: tenantSettings(config),
    tickets: ticketStore(),
  },
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins, tracing: invocationTracing() },
);
