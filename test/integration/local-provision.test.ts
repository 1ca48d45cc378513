// Integration: provisioning the fixture model into the emulators creates exactly what the model declares.
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createEmulatorClients, type EmulatorClients } from '../../local/clients';
import type { LocalPlatformModel } from '../../local/model';
import { describeProvisioned, findQueue, localBucketName, provision } from '../../local/provision';
import { buildFixtureModel } from '../helpers/fixture-model';

const sortBy = <T>(items: readonly T[], key: (item: T) => string): T[] =>
  [...items].sort((a, b) => key(a).localeCompare(key(b)));

describe('provision', () => {
  let clients: EmulatorClients;
  let model: LocalPlatformModel;
  let sqsEndpoint: string;

  beforeAll(async () => {
    const endpoints = inject('emulators');
    sqsEndpoint = endpoints.sqs;
    clients = createEmulatorClients(endpoints);
    model = buildFixtureModel();
    await provision(model, clients, sqsEndpoint);
  });
  afterAll(() => clients.destroy());

  it('creates tables with their keys, GSIs and TTL as the model declares them', async () => {
    const held = await describeProvisioned(model, clients, sqsEndpoint);

    for (const table of model.tables) {
      const actual = held.tables.find((candidate) => candidate.name === table.name);
      expect(actual?.keySchema).toEqual(table.keySchema);
      expect(sortBy(actual?.attributeDefinitions ?? [], (a) => a.AttributeName)).toEqual(
        sortBy(table.attributeDefinitions, (a) => a.AttributeName),
      );
      expect(actual?.globalSecondaryIndexes).toEqual(table.globalSecondaryIndexes);
      expect(actual?.ttlAttribute).toBe(table.ttlAttribute);
    }
  });

  it('creates queues with their timeouts, retention and a redrive policy to the DLQ', async () => {
    const held = await describeProvisioned(model, clients, sqsEndpoint);

    const expected = model.queues.map(({ logicalId: _logicalId, ...queue }) => queue);
    expect(sortBy(held.queues, (queue) => queue.name)).toEqual(sortBy(expected, (queue) => queue.name));
  });

  it('points the redrive policy at the ARN the emulator reports for the DLQ', async () => {
    const source = model.queues.find((queue) => queue.redrive)!;
    const dlq = findQueue(model, source.redrive!.deadLetterQueue);
    const resources = await provision(model, clients, sqsEndpoint);

    const read = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: resources.queues.get(source.name)!.url,
        AttributeNames: ['All'],
      }),
    );
    const policy = JSON.parse(read.Attributes!.RedrivePolicy!) as { deadLetterTargetArn: string };
    expect(policy.deadLetterTargetArn).toBe(resources.queues.get(dlq.name)!.arn);
  });

  it('creates buckets with their CORS rules', async () => {
    const held = await describeProvisioned(model, clients, sqsEndpoint);

    expect(held.buckets).toEqual(model.buckets.map(({ logicalId: _logicalId, ...bucket }) => bucket));
  });

  it('keeps existing resources and their contents when run again', async () => {
    const table = model.tables[0]!;
    const bucket = model.buckets[0]!;
    await clients.dynamodb.send(
      new PutItemCommand({ TableName: table.name, Item: { pk: { S: 'keep' }, sk: { S: 'me' } } }),
    );
    await clients.s3.send(
      new PutObjectCommand({ Bucket: localBucketName(bucket.name), Key: 'kept.txt', Body: 'still here' }),
    );

    await provision(model, clients, sqsEndpoint);

    const item = await clients.dynamodb.send(
      new GetItemCommand({ TableName: table.name, Key: { pk: { S: 'keep' }, sk: { S: 'me' } } }),
    );
    expect(item.Item?.pk?.S).toBe('keep');
    const objects = await clients.s3.send(new ListObjectsV2Command({ Bucket: localBucketName(bucket.name) }));
    expect(objects.Contents?.map((object) => object.Key)).toContain('kept.txt');
  });
});
