// Test helper: s3rver, in-process on a free port with its own temporary directory, and an S3 client for it.
// Self-contained on purpose, so it can be swapped for the shared global setup later.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const require = createRequire(import.meta.url);

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface S3Local {
  readonly endpoint: string;
  readonly client: S3Client;
  createBucket(name: string): Promise<void>;
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

/**
 * @example
 * const s3 = await startS3Local();
 * await s3.createBucket('files-test');
 * // ... new S3BlobStore(s3.client, 'files-test') ...
 * await s3.stop();
 */
export const startS3Local = async (): Promise<S3Local> => {
  const S3rver = require('s3rver') as S3rverConstructor;
  const directory = mkdtempSync(join(tmpdir(), 'tenantic-s3-it-'));
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's built-in account; path-style because the emulator has no virtual-host DNS.
  const client = new S3Client({
    endpoint,
    region: 'eu-west-1',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    endpoint,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      client.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
};
