// Adapter: the layout of quota items in TABLES.quotas, shared by the ledger and the usage reader.
//   pk TENANT#<id>   sk QUOTA#<name>#<window>  (QUOTA#<name> for gauges: concurrent runs, storage)
//   used, reserved, committed (= used + reserved), overrun, ttl, and one `hold_<id>` map
//   { amount, expires_at } per live reservation or run slot.
// The per-minute request counter has no item of its own: it rides on the month's token item as
// `rpm_minute` (the minute it counts, `2026-11-22T09:15`) and `rpm_used`, so a metered request (count
// the request, hold its tokens) is admitted by one conditional write.
// Vocabulary: docs/glossary.md
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

/** Requests counted in `minute` according to an item (0 when the item counts an older minute). */
export const requestsIn = (item: Record<string, unknown> | undefined, minute: string): number =>
  item?.[REQUEST_MINUTE_ATTRIBUTE] === minute ? count(item[REQUEST_COUNT_ATTRIBUTE]) : 0;

/** Holds live as top-level attributes: SET needs no parent map, so the first hold needs no set-up write. */
export const HOLD_PREFIX = 'hold_';
export const holdAttribute = (holdId: string): string => `${HOLD_PREFIX}${holdId}`;

export interface StoredHold {
  readonly attribute: string;
  readonly amount: number;
  readonly expiresAt: number;
}

export const count = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) ? value : 0;

export const holdsOf = (item: Record<string, unknown> | undefined): StoredHold[] =>
  Object.entries(item ?? {})
    .filter(([name, value]) => name.startsWith(HOLD_PREFIX) && typeof value === 'object' && value !== null)
    .map(([attribute, value]) => {
      const hold = value as Record<string, unknown>;
      return { attribute, amount: count(hold.amount), expiresAt: count(hold.expires_at) };
    });

/** The hold `holdId` as an item stores it; undefined when the item has none (settled, released, reclaimed). */
export const storedHold = (
  item: Record<string, unknown> | undefined,
  holdId: string,
): StoredHold | undefined => holdsOf(item).find((hold) => hold.attribute === holdAttribute(holdId));

/** Reserved by holds still within their lease: expired ones are crashed callers', awaiting reclaim. */
export const liveReserved = (item: Record<string, unknown> | undefined, nowSeconds: number): number => {
  const expired = holdsOf(item)
    .filter((hold) => hold.expiresAt <= nowSeconds)
    .reduce((sum, hold) => sum + hold.amount, 0);
  return Math.max(0, count(item?.reserved) - expired);
};

type Raw = { N?: string; S?: string; M?: Record<string, Raw>; BOOL?: boolean; NULL?: boolean };
const RAW_TYPES = new Set(['N', 'S', 'M', 'BOOL', 'NULL', 'L', 'SS', 'NS', 'BS', 'B']);

const plain = (value: unknown): unknown => {
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1 || !RAW_TYPES.has(keys[0] ?? '')) return value;
  const raw = value as Raw;
  if (raw.N !== undefined) return Number(raw.N);
  if (raw.S !== undefined) return raw.S;
  if (raw.BOOL !== undefined) return raw.BOOL;
  if (raw.NULL !== undefined) return null;
  if (raw.M !== undefined) return Object.fromEntries(Object.entries(raw.M).map(([k, v]) => [k, plain(v)]));
  return value;
};

/**
 * The item a failed condition returns (`ReturnValuesOnConditionCheckFailure: ALL_OLD`). The document
 * client leaves it in wire format; the few types quota items use are decoded here.
 */
export const conditionFailureItem = (error: unknown): Record<string, unknown> | undefined => {
  const item = (error as { Item?: Record<string, unknown> } | undefined)?.Item;
  if (!item) return undefined;
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, plain(value)]));
};

/** The item returned for one refused item of a cancelled transaction, decoded as above. */
export const cancellationItem = (error: unknown, index: number): Record<string, unknown> | undefined =>
  conditionFailureItem((error as { CancellationReasons?: unknown[] }).CancellationReasons?.[index]);
