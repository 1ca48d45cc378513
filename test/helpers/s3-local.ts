// Test helper: the shared S3 emulator (s3rver, started once by test/helpers/global-setup.ts) and a client.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';

export interface S3Local {
  readonly endpoint: string;
  readonly client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Releases this caller's client; the emulator belongs to the global setup. */
  stop(): Promise<void>;
}

/**
 * @example
 * const s3 = await startS3Local();
 * await s3.createBucket('files-test');
 * // ... new S3BlobStore(s3.client, 'files-test') ...
 * await s3.stop();
 */
export const startS3Local = async (): Promise<S3Local> => {
  const emulators = inject('emulators');
  // Path-style because the emulator has no virtual-host DNS.
  const client = new S3Client({
    endpoint: emulators.s3,
    region: emulators.region,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { ...emulators.credentials },
  });
  return {
    endpoint: emulators.s3,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => client.destroy(),
  };
};
