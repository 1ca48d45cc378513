// Core: cursor pagination shared by every list route (OpenAI style `?limit=&after=`, opaque cursors).
import { z } from 'zod';
import { InvalidRequestError } from './errors';

const DEFAULT_PAGE_LIMIT = 20;
const MAX_PAGE_LIMIT = 100;

/** `?limit=&after=` as they arrive in a query string. */
export const PageQuerySchema = z
  .object({
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE_LIMIT)
      .default(DEFAULT_PAGE_LIMIT)
      .describe(`Page size, 1-${MAX_PAGE_LIMIT}`),
    after: z.string().min(1).max(512).optional().describe('The `next_cursor` of the previous page'),
  })
  .strict();
export type PageQuery = z.infer<typeof PageQuerySchema>;

/** What a store is asked for: a page size and, after the first page, the cursor it handed out. */
export interface PageRequest {
  readonly limit: number;
  readonly cursor?: string;
}

/** A page of items; `nextCursor` is present exactly when more items follow. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor?: string;
}

/** The OpenAI list envelope. */
export const listEnvelope = <T extends z.ZodType>(item: T) =>
  z.object({
    object: z.literal('list'),
    data: z.array(item),
    has_more: z.boolean(),
    next_cursor: z.string().optional().describe('Pass as `after` to get the next page'),
  });

export interface ListEnvelope<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor?: string;
}

/**
 * Renders a store page as the OpenAI list envelope.
 *
 * @example
 * toListEnvelope(page, toTenantResource); // { object: 'list', data: [...], has_more: false }
 */
export const toListEnvelope = <T, R>(page: Page<T>, render: (item: T) => R): ListEnvelope<R> => ({
  object: 'list',
  data: page.items.map(render),
  has_more: page.nextCursor !== undefined,
  ...(page.nextCursor === undefined ? {} : { next_cursor: page.nextCursor }),
});

/** 400 `invalid_cursor`: a cursor this API never handed out (tampered, truncated or from another list). */
export class InvalidCursorError extends InvalidRequestError {
  constructor(options?: ErrorOptions) {
    super('invalid_cursor', 'The `after` cursor is not one this list returned', {
      ...options,
      param: 'after',
    });
  }
}

const CursorPayload = z.object({ v: z.literal(1), id: z.string() }).strict();

/**
 * Cursors name the last id of a page, wrapped so clients treat them as opaque. Stores rebuild their
 * own start keys from the id, so a forged cursor can only move within the list it was used on.
 *
 * @example
 * const cursor = encodeCursor('ten_01j...');
 * decodeCursor(cursor, /^ten_[0-9a-z]{26}$/); // 'ten_01j...'
 */
export const encodeCursor = (id: string): string =>
  Buffer.from(JSON.stringify({ v: 1, id }), 'utf8').toString('base64url');

export const decodeCursor = (cursor: string, idPattern: RegExp): string => {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new InvalidCursorError({ cause: error });
  }
  const parsed = CursorPayload.safeParse(payload);
  if (!parsed.success || !idPattern.test(parsed.data.id)) throw new InvalidCursorError();
  return parsed.data.id;
};
