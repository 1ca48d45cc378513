// Port: opaque objects by key (S3 in the cloud, an emulator locally), for content too large for a table item.

/**
 * Keys are paths chosen by the caller (`tenants/<t>/sessions/<s>/messages/<m>`), so everything of one
 * owner can be removed by prefix. Throttling and service faults surface as a 503 `UpstreamError`.
 *
 * @example
 * const blobs: BlobStore = new S3BlobStore(s3Client, bucketName);
 * await blobs.put('tenants/t/sessions/s/messages/m', JSON.stringify(body), 'application/json');
 * await blobs.getText('tenants/t/sessions/s/messages/m'); // the same text, or undefined if absent
 * await blobs.deletePrefix('tenants/t/sessions/s/'); // 1
 */
export interface BlobStore {
  /** Writes (or replaces) one object. */
  put(key: string, body: string, contentType: string): Promise<void>;
  /** The object as UTF-8 text; undefined when there is no such key. */
  getText(key: string): Promise<string | undefined>;
  /** Removes these keys; absent keys are not an error. */
  deleteKeys(keys: readonly string[]): Promise<void>;
  /** Removes every object whose key starts with `prefix`; returns how many there were. */
  deletePrefix(prefix: string): Promise<number>;
}
