// Handler: the tenant's own routes: its models and its usage (function `account-api`).
import type { Clock } from '../../core/ports/clock';
import { systemClock } from '../../core/ports/clock';
import type { QuotaLedger } from '../../core/ports/quota-ledger';
import type { TenantStore } from '../../core/ports/tenant-store';
import type { UsageReader } from '../../core/ports/usage-reader';
import { getUsage } from '../../core/quotas/get-usage';
import { listModels } from '../../core/tenants/list-models';
import type { TenantSettings } from '../../core/tenants/model';
import { type HttpHandlerOptions, httpHandler } from '../../middleware/http-handler';
import { quotaLedger, runtimeConfig, tenantSettings, tenantStore, usageReader } from '../wiring';

export interface AccountDeps {
  readonly store: TenantStore;
  readonly usage: UsageReader;
  /** Counts each request against `requests_per_minute`. */
  readonly ledger: QuotaLedger;
  readonly clock: Clock;
  readonly settings: TenantSettings;
}

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
  },
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins },
);
