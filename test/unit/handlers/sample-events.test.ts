// Every sample event in events/ goes through its function's handler (with in-memory fakes), so the
// samples that `npm run invoke` uses are proven to be shapes the handlers accept.
import { readdirSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { FUNCTIONS } from '../../../functions/platform/functions';
import { InMemoryQuotaLedger } from '../../helpers/quota-fakes';
import { InMemoryTicketStore } from '../../helpers/ticket-fakes';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createTenantsApi } = await import('../../../functions/handlers/tenants-api');
const { createAccountApi } = await import('../../../functions/handlers/account-api');
const { createOpenApiDoc } = await import('../../../functions/handlers/openapi-doc');
const { createHttpAuthorizer } = await import('../../../functions/handlers/authorizer-http');
const { createWsAuthorizer } = await import('../../../functions/handlers/authorizer-ws');
const {
  ADMIN_KEY,
  PLANS,
  lambdaContext,
  loadEvent,
  manualClock,
  memoryLogger,
  seedSampleTenant,
  settings,
  tenantDeps,
} = await import('../../helpers/tenant-fakes');

const MINE = ['authorizer-http', 'authorizer-ws', 'tenants-api', 'account-api', 'openapi-doc'] as const;
const casesOf = (functionId: string) =>
  readdirSync(new URL(`../../../events/${functionId}`, import.meta.url))
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.replace(/\.json$/, ''));

const invoke = async (functionId: (typeof MINE)[number], name: string) => {
  const deps = tenantDeps(undefined, manualClock());
  await seedSampleTenant(deps.store);
  const { logger } = memoryLogger();
  const event = loadEvent(functionId, name);
  const context = lambdaContext();
  switch (functionId) {
    case 'tenants-api':
      return createTenantsApi(deps, { logger })(event, context);
    case 'account-api': {
      const usage = {
        readCounters: async () =>
          Object.fromEntries(
            Object.keys(PLANS.free).map((quota) => [quota, { used: 0, reserved: 0 }]),
          ) as never,
      };
      return createAccountApi(
        {
          store: deps.store,
          usage,
          ledger: new InMemoryQuotaLedger(),
          clock: deps.clock,
          settings,
          tickets: new InMemoryTicketStore(),
        },
        { logger },
      )(event, context);
    }
    case 'openapi-doc':
      return createOpenApiDoc({ logger })(event, context);
    case 'authorizer-http':
      return createHttpAuthorizer({
        store: deps.store,
        stage: 'dev',
        admin: { isAdminKey: async (key) => key === ADMIN_KEY },
        logger,
      })(event);
    case 'authorizer-ws':
      return createWsAuthorizer({ store: deps.store, stage: 'dev', logger })(event as never).catch(
        (error: Error) => ({
          thrown: error.message,
        }),
      );
  }
};

/** What each sample is for; a new sample must say what it expects. */
const EXPECTED: Record<string, unknown> = {
  'tenants-api/create-tenant': { statusCode: 201 },
  'tenants-api/list-tenants': { statusCode: 200 },
  'tenants-api/get-tenant': { statusCode: 200 },
  'tenants-api/update-tenant': { statusCode: 200 },
  'tenants-api/create-api-key': { statusCode: 201 },
  'tenants-api/list-api-keys': { statusCode: 200 },
  'tenants-api/revoke-api-key': { statusCode: 204 },
  'tenants-api/anonymous-create-tenant': { statusCode: 401 },
  'tenants-api/tenant-key-on-admin-route': { statusCode: 403 },
  'account-api/list-models': { statusCode: 200 },
  'account-api/get-usage': { statusCode: 200 },
  'account-api/revoked-key': { statusCode: 401 },
  'account-api/create-ws-ticket': { statusCode: 201 },
  'openapi-doc/get-openapi': { statusCode: 200 },
  'authorizer-http/tenant-key': { isAuthorized: true, context: { principal: 'tenant' } },
  'authorizer-http/admin-key': { isAuthorized: true, context: { principal: 'admin' } },
  'authorizer-http/malformed-key': { isAuthorized: true, context: { principal: 'anonymous' } },
  'authorizer-http/missing-header': { isAuthorized: true, context: { authError: 'missing_api_key' } },
  'authorizer-ws/tenant-key': { policyDocument: { Statement: [{ Effect: 'Allow' }] } },
  'authorizer-ws/missing-header': { thrown: 'Unauthorized' },
  'authorizer-ws/ticket': { thrown: 'Unauthorized' },
};

describe('sample events', () => {
  it('exist for each of these functions, and each function is in the catalogue', () => {
    for (const functionId of MINE) {
      expect(FUNCTIONS[functionId]).toBeDefined();
      expect(casesOf(functionId).length).toBeGreaterThan(0);
    }
  });

  for (const functionId of MINE) {
    for (const name of casesOf(functionId)) {
      it(`${functionId}/${name}`, async () => {
        const expected = EXPECTED[`${functionId}/${name}`];
        expect(expected, 'add this sample to EXPECTED').toBeDefined();

        const result = await invoke(functionId, name);

        expect(result).toMatchObject(expected as object);
      });
    }
  }

  it('the deployed entry modules build from the environment alone', async () => {
    for (const functionId of MINE) {
      const module = await import(/* @vite-ignore */ `../../../${FUNCTIONS[functionId].entry}`);
      expect(typeof module.handler, functionId).toBe('function');
    }
  });
});
