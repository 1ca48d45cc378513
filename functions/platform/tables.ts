// Platform manifest: DynamoDB table keys, indexes and TTL attributes, shared by the CDK app and the adapters.
import { ENV } from './env';

interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
}

export interface TableDefinition {
  /** Construct id in the data stack; also the local table name's suffix. */
  readonly id: string;
  readonly envVar: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
  /** Attribute holding epoch seconds after which DynamoDB may delete the item. */
  readonly ttlAttribute: string;
  readonly indexes: readonly IndexDefinition[];
}

const gsi1: IndexDefinition = { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' };

export const TABLES = {
  /** Tenants, their API keys, and the key-hash lookup items. */
  tenants: {
    id: 'TenantsTable',
    envVar: ENV.tenantsTable,
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'ttl',
    indexes: [gsi1],
  },
  /** Sessions, their messages and runs, and per-run event logs. */
  sessions: {
    id: 'SessionsTable',
    envVar: ENV.sessionsTable,
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'ttl',
    indexes: [gsi1],
  },
  /** Quota counters, reservations and usage windows. */
  quotas: {
    id: 'QuotasTable',
    envVar: ENV.quotasTable,
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'ttl',
    indexes: [],
  },
  /** Live WebSocket connections and single-use connect tickets. */
  connections: {
    id: 'ConnectionsTable',
    envVar: ENV.connectionsTable,
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'ttl',
    indexes: [gsi1],
  },
  /** Idempotency records for queue consumers and client request ids. */
  idempotency: {
    id: 'IdempotencyTable',
    envVar: ENV.idempotencyTable,
    partitionKey: 'pk',
    ttlAttribute: 'ttl',
    indexes: [],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;
