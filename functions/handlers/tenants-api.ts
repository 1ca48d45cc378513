// Handler: the admin routes for tenants and their API keys (function `tenants-api`).
import { createApiKey } from '../core/tenants/create-api-key';
import { createTenant } from '../core/tenants/create-tenant';
import { getTenant } from '../core/tenants/get-tenant';
import { listApiKeys } from '../core/tenants/list-api-keys';
import { listTenants } from '../core/tenants/list-tenants';
import type { TenantDeps } from '../core/tenants/model';
import { revokeApiKey } from '../core/tenants/revoke-api-key';
import { updateTenant } from '../core/tenants/update-tenant';
import { type HttpHandlerOptions, httpHandler } from '../middleware/http-handler';
import { invocationTracing } from '../observability/tracer';
import { runtimeConfig } from './wiring/config';
import { tenantDeps } from './wiring/stores';

export const createTenantsApi = (
  deps: TenantDeps,
  options: Omit<HttpHandlerOptions, 'service' | 'store'> = {},
) =>
  httpHandler(
    {
      createTenant: ({ body }) => createTenant(deps, body),
      listTenants: ({ query }) => listTenants(deps, query),
      getTenant: ({ path }) => getTenant(deps, path.id),
      updateTenant: ({ path, body }) => updateTenant(deps, path.id, body),
      createApiKey: ({ path }) => createApiKey(deps, path.id),
      listApiKeys: ({ path, query }) => listApiKeys(deps, path.id, query),
      revokeApiKey: async ({ path }) => {
        await revokeApiKey(deps, path.id, path.keyId);
        return undefined;
      },
    },
    { service: 'tenants-api', store: deps.store, ...options },
  );

const config = runtimeConfig();
export const handler = createTenantsApi(tenantDeps(), {
  maxBodyBytes: config.maxBodyBytes,
  corsOrigins: config.corsOrigins,
  tracing: invocationTracing(),
});
