// Local platform: SDK v3 clients pointed explicitly at the emulators (the platform's own control plane,
// as opposed to the functions, which find the emulators through AWS_ENDPOINT_URL_* variables).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { EmulatorEndpoints } from './emulators';

export interface EmulatorClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  destroy(): void;
}

/**
 * One client per emulator, with the dummy credentials and path-style S3.
 *
 * @example
 * const clients = createEmulatorClients(emulators.endpoints);
 * await clients.sqs.send(new ListQueuesCommand({}));
 * clients.destroy();
 */
export const createEmulatorClients = (endpoints: EmulatorEndpoints): EmulatorClients => {
  const common = { region: endpoints.region, credentials: { ...endpoints.credentials } };
  const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  const s3 = new S3Client({
    ...common,
    endpoint: endpoints.s3,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    dynamodb,
    sqs,
    s3,
    destroy() {
      dynamodb.destroy();
      sqs.destroy();
      s3.destroy();
    },
  };
};

/**
 * The queue URL on the emulator's own origin. fauxqs names queues `http://sqs.<region>.localhost:<port>/…`,
 * a host that does not resolve everywhere (and a port that changes between runs); it finds a queue by the
 * last path segment, so the URL on the endpoint's origin addresses the same queue and keeps the SDK from
 * switching hosts.
 */
export const queueUrlOnEndpoint = (endpoint: string, queueUrl: string): string =>
  new URL(new URL(queueUrl).pathname, endpoint).toString();
