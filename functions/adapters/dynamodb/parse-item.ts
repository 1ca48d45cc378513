// Adapter: stored items are parsed at the edge, never cast. An item that does not fit its schema is a
// CorruptRecordError naming the table and key, so a bad item is never passed on as a typed record.
import type { z } from 'zod';
import { CorruptRecordError } from '../../core/errors';

/** At most this many issues go into the message; the ZodError (the cause) has them all. */
const MAX_ISSUES = 5;

const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, MAX_ISSUES)
    .map((issue) => `${issue.path.join('.') || '(item)'}: ${issue.message}`)
    .join('; ');

/**
 * The item as `schema` reads it, or a CorruptRecordError. `key` is only called on failure: it says which
 * item, as safe to log (shorten a hash that is part of a key). zod's issues carry paths and expected
 * types, never the values read, so a secret in a bad item does not reach the log.
 *
 * @example
 * const tenant = parseItem(TenantItemSchema, result.Item, 'tenants', () => 'TENANT#ten_1/TENANT');
 */
export const parseItem = <T>(schema: z.ZodType<T>, item: unknown, table: string, key: () => string): T => {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  throw new CorruptRecordError(
    `${table} item ${key()} does not fit its schema: ${describeIssues(parsed.error)}`,
    {
      cause: parsed.error,
    },
  );
};

/** `pk/sk` of an item, for `parseItem`'s `key` where neither holds a secret. */
export const itemKey = (item: Record<string, unknown> | undefined): string =>
  `${String(item?.pk)}/${String(item?.sk)}`;
