// Test helper: the shared DynamoDB Local (started once by test/helpers/global-setup.ts) with a client, and
// tables created exactly as the platform manifest declares them, under names unique to the caller.
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import type { TableDefinition } from '../../functions/platform/tables';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  /** Creates `name` with the manifest's keys, indexes (projecting all) and TTL attribute. */
  createTable(definition: TableDefinition, name: string): Promise<void>;
  /** Releases this caller's client; the emulator belongs to the global setup. */
  stop(): Promise<void>;
}

/** String keys, on-demand, GSIs projecting all: what the CDK data construct declares. */
const tableInput = (definition: TableDefinition, name: string): CreateTableCommandInput => {
  const attributes = new Set<string>([definition.partitionKey]);
  if (definition.sortKey) attributes.add(definition.sortKey);
  for (const index of definition.indexes) {
    attributes.add(index.partitionKey);
    if (index.sortKey) attributes.add(index.sortKey);
  }
  const keySchema = (partitionKey: string, sortKey?: string) => [
    { AttributeName: partitionKey, KeyType: 'HASH' as const },
    ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map(
      (AttributeName): AttributeDefinition => ({ AttributeName, AttributeType: 'S' }),
    ),
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.indexes.length > 0 && {
      GlobalSecondaryIndexes: definition.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: keySchema(index.partitionKey, index.sortKey),
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
  };
};

/** A table name no other test file uses. */
export const uniqueTableName = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * @example
 * const local = await startDynamoDbLocal();
 * await local.createTable(TABLES.tenants, uniqueTableName('tenants'));
 * // ... tests ...
 * await local.stop();
 */
export const startDynamoDbLocal = async (): Promise<DynamoDbLocal> => {
  const emulators = inject('emulators');
  const client = new DynamoDBClient({
    endpoint: emulators.dynamodb,
    region: emulators.region,
    credentials: { ...emulators.credentials },
  });
  return {
    endpoint: emulators.dynamodb,
    client,
    documentClient: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    createTable: async (definition, name) => {
      await client.send(new CreateTableCommand(tableInput(definition, name)));
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: definition.ttlAttribute, Enabled: true },
        }),
      );
    },
    stop: async () => client.destroy(),
  };
};
