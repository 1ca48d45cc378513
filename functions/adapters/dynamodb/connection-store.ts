// Adapter: ConnectionStore on DynamoDB (TABLES.connections), indexed by tenant on gsi1.
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConnectionStoreFailureError, ConnectionStoreUnavailableError } from '../../core/connections/errors';
import { type ConnectionRecord, ConnectionRecordSchema } from '../../core/connections/schemas';
import type { ConnectionStore } from '../../core/ports/connection-store';
import { TABLES } from '../../platform/tables';

const TABLE = TABLES.connections;
const TTL = TABLE.ttlAttribute;
const GSI1 = TABLE.indexes.find((index) => index.name === 'gsi1');
if (!GSI1?.sortKey) throw new Error('platform manifest: TABLES.connections needs gsi1 with a sort key');
const GSI1_NAME = GSI1.name;
const GSI1_PK = GSI1.partitionKey;
const GSI1_SK = GSI1.sortKey;
const SK = 'CONN';
/** Other item kinds (connect tickets) share the table; this prefix keeps tenant queries to connections. */
const GSI1_SK_PREFIX = 'CONN#';

const keyOf = (connectionId: string) => ({
  [TABLE.partitionKey]: `CONN#${connectionId}`,
  [TABLE.sortKey]: SK,
});

/** Errors retrying may cure: throttling, service-side faults, the network. */
const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/** Connections-table failures as the connections module's errors (shared with the ticket store). */
export const translateConnectionsError = (operation: string, error: unknown): Error => {
  const name = error instanceof Error ? error.name : 'UnknownError';
  const metadata = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  const status = metadata?.httpStatusCode;
  const network = error instanceof Error && metadata === undefined && 'code' in error;
  const message = `connections ${operation} failed: ${name}`;
  if (RETRYABLE.has(name) || (status !== undefined && status >= 500) || network) {
    return new ConnectionStoreUnavailableError(message, { cause: error });
  }
  return new ConnectionStoreFailureError(message, { cause: error });
};

export interface DynamoConnectionStoreOptions {
  /** Epoch milliseconds; decides which records count as expired. */
  now?: () => number;
}

export class DynamoConnectionStore implements ConnectionStore {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoConnectionStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async put(record: ConnectionRecord): Promise<void> {
    const item = {
      ...keyOf(record.connection_id),
      [GSI1_PK]: `TENANT#${record.tenant_id}`,
      [GSI1_SK]: `${GSI1_SK_PREFIX}${record.connected_at}#${record.connection_id}`,
      connection_id: record.connection_id,
      tenant_id: record.tenant_id,
      key_id: record.key_id,
      connected_at: record.connected_at,
      [TTL]: record.ttl,
    };
    await this.call('put', () => this.client.send(new PutCommand({ TableName: this.tableName, Item: item })));
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.call('get', () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: keyOf(connectionId), ConsistentRead: true }),
      ),
    );
    const record = result.Item ? this.toRecord(result.Item) : undefined;
    return record && record.ttl > this.nowSeconds() ? record : undefined;
  }

  async delete(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.call('delete', () =>
      this.client.send(
        new DeleteCommand({ TableName: this.tableName, Key: keyOf(connectionId), ReturnValues: 'ALL_OLD' }),
      ),
    );
    return result.Attributes ? this.toRecord(result.Attributes) : undefined;
  }

  async listByTenant(tenantId: string): Promise<ConnectionRecord[]> {
    const records: ConnectionRecord[] = [];
    await this.queryTenant('listByTenant', tenantId, {}, (page) => {
      for (const item of page.Items ?? []) records.push(this.toRecord(item));
    });
    return records;
  }

  async countByTenant(tenantId: string): Promise<number> {
    let count = 0;
    await this.queryTenant('countByTenant', tenantId, { Select: 'COUNT' }, (page) => {
      count += page.Count ?? 0;
    });
    return count;
  }

  private async queryTenant(
    operation: string,
    tenantId: string,
    extra: Partial<QueryCommandInput>,
    onPage: (page: { Items?: Record<string, unknown>[]; Count?: number }) => void,
  ): Promise<void> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    // The filter drops records past their ttl that DynamoDB has not deleted yet (that can take days).
    do {
      const page = await this.call(operation, () =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: GSI1_NAME,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            FilterExpression: '#ttl > :now',
            ExpressionAttributeNames: { '#pk': GSI1_PK, '#sk': GSI1_SK, '#ttl': TTL },
            ExpressionAttributeValues: {
              ':pk': `TENANT#${tenantId}`,
              ':prefix': GSI1_SK_PREFIX,
              ':now': this.nowSeconds(),
            },
            ExclusiveStartKey: exclusiveStartKey,
            ...extra,
          }),
        ),
      );
      onPage(page);
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey);
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private toRecord(item: Record<string, unknown>): ConnectionRecord {
    const parsed = ConnectionRecordSchema.safeParse({ ...item, ttl: item[TTL] });
    if (!parsed.success) {
      throw new ConnectionStoreFailureError(
        `connections item ${String(item[TABLE.partitionKey])} is malformed`,
        {
          cause: parsed.error,
        },
      );
    }
    return parsed.data;
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateConnectionsError(operation, error);
    }
  }
}
