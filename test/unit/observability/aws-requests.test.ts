import { Readable } from 'node:stream';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  awsRequestTally,
  countAwsRequests,
  startAwsRequestTally,
} from '../../../functions/observability/aws-requests';

/** A DynamoDB client whose HTTP exchanges are answered from a script (status codes in order), offline. */
const scriptedClient = (statuses: number[], gate?: Promise<void>) => {
  const seen: string[] = [];
  const client = new DynamoDBClient({
    region: 'eu-west-1',
    endpoint: 'http://dynamodb.invalid',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        seen.push(String(request.headers['x-amz-target']));
        await gate;
        const statusCode = statuses.shift() ?? 200;
        const body =
          statusCode === 200
            ? '{}'
            : JSON.stringify({
                __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
                message: 'boom',
              });
        return {
          response: {
            statusCode,
            reason: '',
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: Readable.from([Buffer.from(body)]),
          },
        };
      },
    } as never,
  });
  countAwsRequests(client.middlewareStack, 'dynamodb');
  return { client, seen };
};

const get = new GetItemCommand({ TableName: 'things', Key: { pk: { S: 'a' } } });
const put = new PutItemCommand({ TableName: 'things', Item: { pk: { S: 'a' } } });

describe('AWS request tally', () => {
  beforeEach(() => startAwsRequestTally());

  it('counts each request per service and operation, with its time on the wire', async () => {
    const { client, seen } = scriptedClient([]);
    await client.send(get);
    await client.send(put);
    await client.send(get);

    const tally = awsRequestTally();
    expect(tally.dynamodb?.requests).toBe(seen.length);
    expect(tally.dynamodb?.operations).toEqual({ GetItem: 2, PutItem: 1 });
  });

  it('counts every attempt of a retried call, as AWS receives them', async () => {
    const { client, seen } = scriptedClient([500, 500, 200]);
    await client.send(get);

    expect(seen).toHaveLength(3);
    expect(awsRequestTally().dynamodb).toMatchObject({ requests: 3, operations: { GetItem: 3 } });
  });

  it('starts from nothing for each invocation, and hands out copies', async () => {
    const { client } = scriptedClient([]);
    await client.send(get);
    const before = awsRequestTally();
    startAwsRequestTally();

    expect(awsRequestTally()).toEqual({});
    expect(before.dynamodb?.requests).toBe(1);
    before.dynamodb!.requests = 99;
    await client.send(get);
    expect(awsRequestTally().dynamodb?.requests).toBe(1);
  });

  it("counts a request in the tally of the invocation that sent it, not the next one's", async () => {
    let open = () => {};
    const { client, seen } = scriptedClient(
      [],
      new Promise<void>((resolve) => {
        open = resolve;
      }),
    );
    const inFlight = client.send(get);
    // Sent (the HTTP handler has it), not yet answered: a new invocation starts.
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    startAwsRequestTally();
    open();
    await inFlight;

    expect(awsRequestTally()).toEqual({});
  });

  it('times each request up to its answer', async () => {
    const { client } = scriptedClient([], new Promise<void>((resolve) => setTimeout(resolve, 30)));
    await client.send(get);

    expect(awsRequestTally().dynamodb?.ms).toBeGreaterThan(0);
  });

  it('splits the time on the wire by operation, adding up to the total', async () => {
    const { client } = scriptedClient([], new Promise<void>((resolve) => setTimeout(resolve, 20)));
    await client.send(get);
    await client.send(put);
    await client.send(get);

    const tally = awsRequestTally().dynamodb!;
    expect(Object.keys(tally.operationMs).sort()).toEqual(Object.keys(tally.operations).sort());
    expect(tally.operationMs.GetItem).toBeGreaterThan(0);
    const summed = Object.values(tally.operationMs).reduce((total, ms) => total + ms, 0);
    expect(summed).toBeCloseTo(tally.ms, 6);
  });

  it('counts the time some request was in flight once, however many were side by side', async () => {
    const { client } = scriptedClient([], new Promise<void>((resolve) => setTimeout(resolve, 20)));
    await Promise.all([client.send(get), client.send(put)]);
    const together = awsRequestTally().dynamodb!;
    const { GetItem = 0, PutItem = 0 } = together.operationMs;
    // Both waited on the same answer: the wall time covers the longer one, and not both.
    expect(together.wallMs).toBeGreaterThanOrEqual(Math.max(GetItem, PutItem) - 1e-6);
    expect(together.wallMs).toBeLessThan(GetItem + PutItem);

    startAwsRequestTally();
    await client.send(get);
    await client.send(put);
    // One after the other, nothing overlaps: the wall time is the sum.
    const apart = awsRequestTally().dynamodb!;
    expect(apart.wallMs).toBeCloseTo(apart.ms, 6);
  });

  it('shares one tally between copies of the module (a bundle and the local runtime)', async () => {
    vi.resetModules();
    const copy = await import('../../../functions/observability/aws-requests');
    expect(copy.awsRequestTally).not.toBe(awsRequestTally);
    const { client } = scriptedClient([]);
    await client.send(get);

    expect(copy.awsRequestTally().dynamodb?.requests).toBe(1);
  });
});
