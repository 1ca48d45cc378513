// Handler: the tenant's own routes: its models and its usage (function `account-api`).
import type { Clock } from '../../core/ports/clock';
import { systemClock } from '../../core/ports/clock';
import type { TenantStore } from '../../core/ports/tenant-store';
import type { UsageReader } from '../../core/ports/usage-reader';
import { getUsage } from '../../core/quotas/get-usage';
import { listModels } from '../../core/tenants/list-models';
import type { TenantSettings } from '../../core/tenants/model';
import { type HttpHandlerOptions, httpHandler } from '../../middleware/http-handler';
import { runtimeConfig, tenantSettings, tenantStore, usageReader } from '../wiring';

export interface AccountDeps {
  readonly store: TenantStore;
  readonly usage: UsageReader;
  readonly clock: Clock;
  readonly settings: TenantSettings;
}

export const createAccountApi = (
  deps: AccountDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store'> = {},
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
    { service: 'account-api', store: deps.store, ...options },
  );

const config = runtimeConfig();
export const handler = createAccountApi(
  { store: tenantStore(), usage: usageReader(), clock: systemClock, settings: tenantSettings(config) },
  { maxBodyBytes: config.maxBodyBytes, corsOrigins: config.corsOrigins },
);
