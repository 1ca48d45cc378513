// Unit: the DynamoDB ConnectionStore's item shape and its translation of SDK errors into domain errors.
import { DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoConnectionStore } from '../../../functions/adapters/dynamodb/connection-store';
import {
  ConnectionStoreFailureError,
  ConnectionStoreUnavailableError,
} from '../../../functions/core/connections/errors';
import { TABLES } from '../../../functions/platform/tables';

const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const dynamo = mockClient(documentClient);
const now = Date.parse('2026-11-21T21:15:00.000Z');
const store = new DynamoConnectionStore(documentClient, 'connections', { now: () => now });
const record = {
  connection_id: 'Ub1YkcNGoAMCJlQ=',
  tenant_id: 'ten_a',
  key_id: 'key_a',
  connected_at: '2026-11-21T21:14:56.123Z',
  ttl: Math.floor(now / 1000) + 3600,
};

beforeEach(() => dynamo.reset());

describe('DynamoConnectionStore', () => {
  it('writes the manifest keys, the tenant index keys and the ttl attribute', async () => {
    dynamo.on(PutCommand).resolves({});

    await store.put(record);

    const item = dynamo.commandCalls(PutCommand)[0]?.args[0].input.Item;
    expect(item).toMatchObject({
      pk: `CONN#${record.connection_id}`,
      sk: 'CONN',
      gsi1pk: 'TENANT#ten_a',
      gsi1sk: `CONN#${record.connected_at}#${record.connection_id}`,
      [TABLES.connections.ttlAttribute]: record.ttl,
    });
  });

  it('treats an item past its ttl as absent, before DynamoDB gets round to deleting it', async () => {
    dynamo
      .on(GetCommand)
      .resolves({ Item: { pk: 'CONN#c1', sk: 'CONN', ...record, ttl: Math.floor(now / 1000) } });

    expect(await store.get('c1')).toBeUndefined();
  });

  it('sums the count over every page of a tenant query', async () => {
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Count: 2, LastEvaluatedKey: { pk: 'CONN#c2', sk: 'CONN' } })
      .resolvesOnce({ Count: 1 });

    expect(await store.countByTenant('ten_a')).toBe(3);
    const input = dynamo.commandCalls(QueryCommand)[1]?.args[0].input;
    expect(input?.ExclusiveStartKey).toEqual({ pk: 'CONN#c2', sk: 'CONN' });
    expect(input?.ExpressionAttributeValues).toMatchObject({ ':pk': 'TENANT#ten_a' });
  });

  it('translates throttling into a retryable ConnectionStoreUnavailableError', async () => {
    const throttled = Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
      name: 'ProvisionedThroughputExceededException',
      $metadata: { httpStatusCode: 400 },
    });
    dynamo.on(PutCommand).rejects(throttled);

    const error = await store.put(record).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConnectionStoreUnavailableError);
    expect((error as ConnectionStoreUnavailableError).cause).toBe(throttled);
  });

  it('translates a missing table into ConnectionStoreFailureError (a deployment bug)', async () => {
    dynamo
      .on(GetCommand)
      .rejects(new ResourceNotFoundException({ message: 'no table', $metadata: { httpStatusCode: 400 } }));

    await expect(store.get('c1')).rejects.toBeInstanceOf(ConnectionStoreFailureError);
  });

  it('refuses a malformed item instead of passing it on', async () => {
    dynamo.on(GetCommand).resolves({ Item: { pk: 'CONN#c1', sk: 'CONN', connection_id: 'c1' } });

    await expect(store.get('c1')).rejects.toBeInstanceOf(ConnectionStoreFailureError);
  });
});
