// Handlers: production wiring, built once per cold start: runtime config, SDK clients and adapters.
import { dynamoDocumentClient, s3, secretsManager } from '../adapters/aws-clients';
import { DynamoQuotaLedger } from '../adapters/dynamodb/quota-ledger';
import { DynamoSessionStore } from '../adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../adapters/dynamodb/tenant-store';
import { DynamoTicketStore } from '../adapters/dynamodb/ticket-store';
import { DynamoUsageReader } from '../adapters/dynamodb/usage-reader';
import { S3BlobStore } from '../adapters/s3/blob-store';
import { AdminKeyProvider } from '../adapters/secrets/admin-key';
import { loadConfig, type RuntimeConfig, requireEnv } from '../config';
import type { AdminKeyVerifier } from '../core/ports/admin-key';
import { systemClock } from '../core/ports/clock';
import { randomIds } from '../core/ports/id-generator';
import type { QuotaLedger } from '../core/ports/quota-ledger';
import type { SessionStore } from '../core/ports/session-store';
import type { TenantStore } from '../core/ports/tenant-store';
import type { TicketStore } from '../core/ports/ticket-store';
import type { UsageReader } from '../core/ports/usage-reader';
import type { SessionDeps, SessionSettings } from '../core/sessions/model';
import type { TenantDeps, TenantSettings } from '../core/tenants/model';
import { createBuiltinToolRegistry } from '../core/tools/builtin';
import { ENV } from '../platform/env';

let config: RuntimeConfig | undefined;
let store: TenantStore | undefined;
let admin: AdminKeyVerifier | undefined;
let usage: UsageReader | undefined;
let sessions: SessionStore | undefined;

/** The tools a tenant may use when its record names none: the built-ins (calculator, current_time). */
export const BUILTIN_TOOLS: readonly string[] = createBuiltinToolRegistry().names();
let ledger: QuotaLedger | undefined;
let tickets: TicketStore | undefined;

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

export const sessionSettings = (from: RuntimeConfig = runtimeConfig()): SessionSettings => ({
  tenants: tenantSettings(from),
  defaultModel: from.defaultModel,
  defaultTools: BUILTIN_TOOLS,
});

/** Sessions in DynamoDB, with message bodies too large for an item in the files bucket. */
export const sessionStore = (): SessionStore => {
  if (!sessions) {
    const env = requireEnv([ENV.sessionsTable, ENV.filesBucket]);
    sessions = new DynamoSessionStore(
      dynamoDocumentClient(),
      env[ENV.sessionsTable],
      new S3BlobStore(s3(), env[ENV.filesBucket]),
    );
  }
  return sessions;
};

export const sessionDeps = (): SessionDeps => ({
  store: sessionStore(),
  clock: systemClock,
  ids: randomIds(systemClock),
  settings: sessionSettings(),
});

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

/** WebSocket connect tickets, in the connections table. */
export const ticketStore = (): TicketStore => {
  tickets ??= new DynamoTicketStore(
    dynamoDocumentClient(),
    requireEnv([ENV.connectionsTable])[ENV.connectionsTable],
  );
  return tickets;
};
