// Handlers' wiring: the DynamoDB-backed stores (and the files bucket behind the session store), each built
// once per cold start on first use. A function's bundle holds only the stores its entry module calls for.
import { dynamoDocumentClient, s3 } from '../../adapters/aws-clients';
import { LedgeredSessionStore } from '../../adapters/dynamodb/ledgered-session-store';
import { DynamoQuotaLedger } from '../../adapters/dynamodb/quota-ledger';
import { DynamoRunStreamStore } from '../../adapters/dynamodb/run-stream-store';
import { DynamoSessionStore } from '../../adapters/dynamodb/session-store';
import { DynamoTenantStore } from '../../adapters/dynamodb/tenant-store';
import { DynamoTicketStore } from '../../adapters/dynamodb/ticket-store';
import { DynamoUsageReader } from '../../adapters/dynamodb/usage-reader';
import { S3BlobStore } from '../../adapters/s3/blob-store';
import { requireEnv } from '../../config';
import { systemClock } from '../../core/ports/clock';
import { randomIds } from '../../core/ports/id-generator';
import type { RunStreamStore } from '../../core/ports/run-stream-store';
import type { SessionStore } from '../../core/ports/session-store';
import type { TenantStore } from '../../core/ports/tenant-store';
import type { TicketStore } from '../../core/ports/ticket-store';
import type { UsageReader } from '../../core/ports/usage-reader';
import type { SessionDeps } from '../../core/sessions/model';
import type { TenantDeps } from '../../core/tenants/model';
import { platformMetrics } from '../../observability/powertools-metrics';
import { ENV } from '../../platform/env';
import { sessionSettings, tenantSettings } from './config';

let store: TenantStore | undefined;
let usage: UsageReader | undefined;
let sessions: SessionStore | undefined;
let ledger: DynamoQuotaLedger | undefined;
let tickets: TicketStore | undefined;
let streams: RunStreamStore | undefined;

export const tenantStore = (): TenantStore => {
  store ??= new DynamoTenantStore(dynamoDocumentClient(), requireEnv([ENV.tenantsTable])[ENV.tenantsTable]);
  return store;
};

export const usageReader = (): UsageReader => {
  usage ??= new DynamoUsageReader(dynamoDocumentClient(), requireEnv([ENV.quotasTable])[ENV.quotasTable]);
  return usage;
};

/** Sessions in DynamoDB, with message bodies too large for an item in the files bucket. */
export const sessionStore = (): SessionStore => {
  if (!sessions) {
    const env = requireEnv([ENV.sessionsTable, ENV.filesBucket]);
    const store = new DynamoSessionStore(
      dynamoDocumentClient(),
      env[ENV.sessionsTable],
      new S3BlobStore(s3(), env[ENV.filesBucket]),
    );
    // Where the function may also write the quotas table, the transactions of a turn are decided here: a
    // run's slot joins the run's write, and a step's settle (and the last step's slot release) the step's.
    sessions = process.env[ENV.quotasTable]
      ? new LedgeredSessionStore(dynamoDocumentClient(), store, quotaLedger())
      : store;
  }
  return sessions;
};

export const sessionDeps = (): SessionDeps => ({
  store: sessionStore(),
  clock: systemClock,
  ids: randomIds(systemClock),
  settings: sessionSettings(),
  metrics: platformMetrics(),
});

export const quotaLedger = (): DynamoQuotaLedger => {
  ledger ??= new DynamoQuotaLedger(dynamoDocumentClient(), requireEnv([ENV.quotasTable])[ENV.quotasTable]);
  return ledger;
};

export const tenantDeps = (): TenantDeps => ({
  store: tenantStore(),
  clock: systemClock,
  ids: randomIds(systemClock),
  settings: tenantSettings(),
});

/** WebSocket connect tickets, in the connections table. */
export const ticketStore = (): TicketStore => {
  tickets ??= new DynamoTicketStore(
    dynamoDocumentClient(),
    requireEnv([ENV.connectionsTable])[ENV.connectionsTable],
  );
  return tickets;
};

/** Runs' event logs and subscriptions (sessions table) and `client_request_id` claims (idempotency table). */
export const runStreamStore = (): RunStreamStore => {
  if (!streams) {
    const env = requireEnv([ENV.sessionsTable, ENV.idempotencyTable]);
    streams = new DynamoRunStreamStore(
      dynamoDocumentClient(),
      env[ENV.sessionsTable],
      env[ENV.idempotencyTable],
    );
  }
  return streams;
};
