// Test helper: the connections table on the shared DynamoDB Local, for the ws integration tests.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLES } from '../../functions/platform/tables';
import { startDynamoDbLocal, uniqueTableName } from './dynamodb-local';

export interface DynamoLocalWs {
  endpoint: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  /** A fresh connections table, named uniquely so test files never share one. */
  createConnectionsTable(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * @example
 * const dynamo = await startDynamoLocalWs();
 * const table = await dynamo.createConnectionsTable();
 * // ... afterAll(() => dynamo.stop());
 */
export const startDynamoLocalWs = async (): Promise<DynamoLocalWs> => {
  const local = await startDynamoDbLocal();
  return {
    endpoint: local.endpoint,
    client: local.client,
    documentClient: local.documentClient,
    async createConnectionsTable() {
      const name = uniqueTableName('ws-connections');
      await local.createTable(TABLES.connections, name);
      return name;
    },
    stop: () => local.stop(),
  };
};
