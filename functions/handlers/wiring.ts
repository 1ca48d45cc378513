// Handlers: production wiring, built once per cold start: runtime config, SDK clients and adapters.
import { dynamoDocumentClient, secretsManager } from '../adapters/aws-clients';
import { DynamoQuotaLedger } from '../adapters/dynamodb/quota-ledger';
import { DynamoTenantStore } from '../adapters/dynamodb/tenant-store';
import { DynamoUsageReader } from '../adapters/dynamodb/usage-reader';
import { AdminKeyProvider } from '../adapters/secrets/admin-key';
import { loadConfig, type RuntimeConfig, requireEnv } from '../config';
import type { AdminKeyVerifier } from '../core/ports/admin-key';
import { systemClock } from '../core/ports/clock';
import { randomIds } from '../core/ports/id-generator';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import type { TenantStore } from '../core/ports/tenant-store';
import type { UsageReader } from '../core/ports/usage-reader';
import type { TenantDeps, TenantSettings } from '../core/tenants/model';
import { ENV } from '../platform/env';

let config: RuntimeConfig | undefined;
let store: TenantStore | undefined;
let admin: AdminKeyVerifier | undefined;
let usage: UsageReader | undefined;
let ledger: QuotaLedger | undefined;

export const runtimeConfig = (): RuntimeConfig => {
  config ??= loadConfig();
  return config;
};

export const tenantSettings = (from: RuntimeConfig = runtimeConfig()): TenantSettings => ({
  stage: from.stage,
  plans: from.plans,
  defaultPlan: from.defaultPlan,
  allowedModels: from.defaultModels,
});

export const tenantStore = (): TenantStore => {
  store ??= new DynamoTenantStore(dynamoDocumentClient(), requireEnv([ENV.tenantsTable])[ENV.tenantsTable]);
  return store;
};

export const usageReader = (): UsageReader => {
  usage ??= new DynamoUsageReader(dynamoDocumentClient(), requireEnv([ENV.quotasTable])[ENV.quotasTable]);
  return usage;
};

export const quotaLedger = (): QuotaLedger => {
  ledger ??= new DynamoQuotaLedger(dynamoDocumentClient(), requireEnv([ENV.quotasTable])[ENV.quotasTable]);
  return ledger;
};

export const tenantDeps = (): TenantDeps => ({
  store: tenantStore(),
  clock: systemClock,
  ids: randomIds(systemClock),
  settings: tenantSettings(),
});

/** ADMIN_API_KEY locally; the Secrets Manager secret in the cloud. */
export const adminKeyVerifier = (env: NodeJS.ProcessEnv = process.env): AdminKeyVerifier => {
  admin ??= new AdminKeyProvider({
    ...(env[ENV.adminApiKey] ? { localKey: env[ENV.adminApiKey] } : {}),
    ...(env[ENV.adminKeySecretArn]
      ? { secretArn: env[ENV.adminKeySecretArn], secrets: secretsManager() }
      : {}),
  });
  return admin;
};
