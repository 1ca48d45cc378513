// Adapter: BlobStore on S3 (s3rver or fauxqs locally, with path-style addressing).
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { UpstreamError } from '../../core/errors';
import type { BlobStore } from '../../core/ports/blob-store';

const RETRYABLE = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'ThrottlingException',
  'TimeoutError',
]);
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);
/** DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000;

const errorName = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);

/** Throttling and service faults are the platform's problem: 503, retryable. Anything else is a bug. */
const translateS3Error = (error: unknown): unknown =>
  RETRYABLE.has(errorName(error) ?? '')
    ? new UpstreamError('storage_unavailable', 'The object store is busy; retry shortly.', {
        statusCode: 503,
        cause: error,
        headers: { 'Retry-After': '1' },
      })
    : error;

export class S3BlobStore implements BlobStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: string, contentType: string): Promise<void> {
    await this.guard(() =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
      ),
    );
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await result.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (NOT_FOUND.has(errorName(error) ?? '')) return undefined;
      throw translateS3Error(error);
    }
  }

  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      const result = await this.guard(() =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      // DeleteObjects answers 200 even when some keys failed; those are reported per key.
      const failed = (result.Errors ?? []).filter((entry) => !NOT_FOUND.has(entry.Code ?? ''));
      if (failed.length > 0) {
        throw translateS3Error(
          Object.assign(new Error(`could not delete ${failed.length} object(s): ${failed[0]?.Code}`), {
            name: failed[0]?.Code ?? 'InternalError',
          }),
        );
      }
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.guard(() =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
      await this.deleteKeys(keys);
      deleted += keys.length;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return deleted;
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateS3Error(error);
    }
  }
}
