// Adapter: the layout of quota items in TABLES.quotas and the zod schemas that read them, shared by the
// ledger and the usage reader.
//   pk TENANT#<id>   sk QUOTA#<name>#<window>  (QUOTA#<name> for gauges: concurrent runs, storage)
//   used, reserved, committed (= used + reserved), overrun, ttl, and one `hold_<id>` map
//   { amount, expires_at } per live reservation or run slot.
// The per-minute request counter has no item of its own: it rides on the month's token item as
// `rpm_minute` (the minute it counts, `2026-11-22T09:15`) and `rpm_used`, so a metered request (count
// the request, hold its tokens) is admitted by one conditional write.
// Vocabulary: docs/glossary.md
import { z } from 'zod';
import type { LedgerQuota } from '../../core/quotas/errors';
import type { QuotaName } from '../../core/quotas/schemas';

export const quotaCounterKey = (tenantId: string, name: QuotaName | LedgerQuota, window: string | null) => ({
  pk: `TENANT#${tenantId}`,
  sk: window === null ? `QUOTA#${name}` : `QUOTA#${name}#${window}`,
});

export const REQUEST_MINUTE_ATTRIBUTE = 'rpm_minute';
export const REQUEST_COUNT_ATTRIBUTE = 'rpm_used';

/**
 * Where `requests_per_minute` is counted: the token item of the minute's month.
 *
 * @example
 * requestCounterKey('ten_1', '2026-11-22T09:15'); // { pk: 'TENANT#ten_1', sk: 'QUOTA#tokens_per_month#2026-11' }
 */
export const requestCounterKey = (tenantId: string, minute: string) =>
  quotaCounterKey(tenantId, 'tokens_per_month', minute.slice(0, 7));

/** Holds live as top-level attributes: SET needs no parent map, so the first hold needs no set-up write. */
const HOLD_PREFIX = 'hold_';
export const holdAttribute = (holdId: string): string => `${HOLD_PREFIX}${holdId}`;

export interface StoredHold {
  readonly attribute: string;
  readonly amount: number;
  readonly expiresAt: number;
}

/**
 * A counter item as the ledger and the usage reader read it. A missing counter reads as 0: an item starts
 * empty, and an `UPDATED_NEW` answer holds only what the write changed.
 */
export interface QuotaItem {
  readonly used: number;
  readonly reserved: number;
  readonly committed: number;
  /** The minute the request counter counts (`2026-11-22T09:15`), on a month's token item. */
  readonly requestMinute: string | undefined;
  readonly requestCount: number;
  readonly holds: readonly StoredHold[];
}

/**
 * What the ledger reads from the item a refused write returns: the bound it was refused by, the request
 * counter and the holds. `used` and `reserved` are not read there, so they are not checked there either.
 */
export type RefusedQuotaItem = Pick<QuotaItem, 'committed' | 'requestMinute' | 'requestCount' | 'holds'>;

const HoldSchema = z.object({ amount: z.number(), expires_at: z.number() });

/** Every `hold_<id>` attribute, each of which must be a hold. */
const holdsIn = (item: Record<string, unknown>, ctx: z.RefinementCtx): StoredHold[] => {
  const holds: StoredHold[] = [];
  for (const [attribute, value] of Object.entries(item)) {
    if (!attribute.startsWith(HOLD_PREFIX)) continue;
    const hold = HoldSchema.safeParse(value);
    if (hold.success) holds.push({ attribute, amount: hold.data.amount, expiresAt: hold.data.expires_at });
    else
      ctx.addIssue({
        code: 'custom',
        message: 'a hold is { amount, expires_at }, both numbers',
        path: [attribute],
      });
  }
  return holds;
};

// The attributes read, each checked where it is read; pk, sk, the TTL and `overrun` pass unread.
const refusedAttributes = {
  committed: z.number().optional(),
  [REQUEST_MINUTE_ATTRIBUTE]: z.string().optional(),
  [REQUEST_COUNT_ATTRIBUTE]: z.number().optional(),
};

/** The view of a refused write's item (once decoded from wire format) the ledger reads. */
const RefusedQuotaItemSchema = z.looseObject(refusedAttributes).transform(
  (item, ctx): RefusedQuotaItem => ({
    committed: item.committed ?? 0,
    requestMinute: item[REQUEST_MINUTE_ATTRIBUTE],
    requestCount: item[REQUEST_COUNT_ATTRIBUTE] ?? 0,
    holds: holdsIn(item, ctx),
  }),
);

/** A counter item (or the part of it an `UPDATED_NEW` answer returns), as the document client reads it. */
export const QuotaItemSchema = z
  .looseObject({ ...refusedAttributes, used: z.number().optional(), reserved: z.number().optional() })
  .transform(
    (item, ctx): QuotaItem => ({
      used: item.used ?? 0,
      reserved: item.reserved ?? 0,
      committed: item.committed ?? 0,
      requestMinute: item[REQUEST_MINUTE_ATTRIBUTE],
      requestCount: item[REQUEST_COUNT_ATTRIBUTE] ?? 0,
      holds: holdsIn(item, ctx),
    }),
  );

/**
 * One attribute value in DynamoDB's wire format, decoded: only the types quota items use (numbers,
 * strings, maps; booleans and null for completeness). Anything else does not belong in a counter item.
 */
const WireValueSchema: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.strictObject({ N: z.string() }).transform(({ N }) => Number(N)),
    z.strictObject({ S: z.string() }).transform(({ S }) => S),
    z.strictObject({ BOOL: z.boolean() }).transform(({ BOOL }) => BOOL),
    z.strictObject({ NULL: z.literal(true) }).transform(() => null),
    z.strictObject({ M: z.record(z.string(), WireValueSchema) }).transform(({ M }) => M),
  ]),
);

/**
 * The item a refused write returns (`ReturnValuesOnConditionCheckFailure: ALL_OLD`): the document client
 * leaves it in wire format, so it is decoded, then read as the ledger reads a refused item.
 */
export const RefusedQuotaItemWireSchema = z.record(z.string(), WireValueSchema).pipe(RefusedQuotaItemSchema);

/** Requests counted in `minute` according to an item (0 when the item counts an older minute). */
export const requestsIn = (item: RefusedQuotaItem | undefined, minute: string): number =>
  item?.requestMinute === minute ? item.requestCount : 0;

/** The hold `holdId` as an item stores it; undefined when the item has none (settled, released, reclaimed). */
export const storedHold = (item: RefusedQuotaItem | undefined, holdId: string): StoredHold | undefined => {
  const attribute = holdAttribute(holdId);
  return item?.holds.find((hold) => hold.attribute === attribute);
};

/** Reserved by holds still within their lease: expired ones are crashed callers', awaiting reclaim. */
export const liveReserved = (item: QuotaItem | undefined, nowSeconds: number): number => {
  const expired = (item?.holds ?? [])
    .filter((hold) => hold.expiresAt <= nowSeconds)
    .reduce((sum, hold) => sum + hold.amount, 0);
  return Math.max(0, (item?.reserved ?? 0) - expired);
};

/**
 * The item a refused write returned, still in wire format (parse it with `RefusedQuotaItemWireSchema`); undefined
 * when there was none (the item did not exist).
 */
export const conditionFailureItem = (error: unknown): unknown =>
  typeof error === 'object' && error !== null && 'Item' in error ? error.Item : undefined;
