// Adapter: UsageReader on the quotas table: one BatchGet of every quota's current counter item (the
// layout is in quota-items.ts; DynamoQuotaLedger writes the same items).
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { QuotaCounter, UsageReader } from '../../core/ports/usage-reader';
import { QUOTA_NAMES, type QuotaName } from '../../core/quotas/schemas';
import { quotaWindow } from '../../core/quotas/windows';
import { translateDynamoError } from './errors';
import { itemKey, parseItem } from './parse-item';
import {
  liveReserved,
  type QuotaItem,
  QuotaItemSchema,
  quotaCounterKey,
  requestCounterKey,
  requestsIn,
} from './quota-items';

export { quotaCounterKey };

/** A whole counter item, as a BatchGet returns it: its sort key says which quota and window it counts. */
const StoredQuotaItemSchema = z.object({ sk: z.string() }).and(QuotaItemSchema);

export class DynamoUsageReader implements UsageReader {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readCounters(tenantId: string, now: Date): Promise<Record<QuotaName, QuotaCounter>> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const minute = quotaWindow('requests_per_minute', now).window as string;
    // The minute's requests are counted on the month's token item, which is then read once.
    const keys = QUOTA_NAMES.filter((name) => name !== 'requests_per_minute').map((name) =>
      quotaCounterKey(tenantId, name, quotaWindow(name, now).window),
    );
    const found = new Map<string, QuotaItem>();
    let pending: Record<string, unknown>[] = keys;
    for (let attempt = 0; pending.length > 0 && attempt < 5; attempt += 1) {
      const result = await this.batchGet(pending);
      for (const raw of result.Responses?.[this.tableName] ?? []) {
        const item = parseItem(StoredQuotaItemSchema, raw, this.tableName, () => itemKey(raw));
        found.set(item.sk, item);
      }
      pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return Object.fromEntries(
      QUOTA_NAMES.map((name) => {
        if (name === 'requests_per_minute') {
          const item = found.get(requestCounterKey(tenantId, minute).sk);
          return [name, { used: requestsIn(item, minute), reserved: 0 }];
        }
        const item = found.get(quotaCounterKey(tenantId, name, quotaWindow(name, now).window).sk);
        // A crashed caller's expired reservation is not reported: the next refused reservation reclaims it.
        return [name, { used: item?.used ?? 0, reserved: liveReserved(item, nowSeconds) }];
      }),
    ) as Record<QuotaName, QuotaCounter>;
  }

  private async batchGet(keys: Record<string, unknown>[]) {
    try {
      return await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys } } }),
      );
    } catch (error) {
      throw translateDynamoError(error);
    }
  }
}
