// Adapter: UsageReader on the quotas table. Counter items are keyed per tenant, quota and window:
//   pk TENANT#<id>   sk QUOTA#<name>#<window>   (or QUOTA#<name> for gauges)   used, reserved
// The chat and tool paths that write these counters use quotaCounterKey too.
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { QuotaCounter, UsageReader } from '../../core/ports/usage-reader';
import { QUOTA_NAMES, type QuotaName } from '../../core/quotas/schemas';
import { quotaWindow } from '../../core/quotas/windows';
import { translateDynamoError } from './errors';

export const quotaCounterKey = (tenantId: string, name: QuotaName, window: string | null) => ({
  pk: `TENANT#${tenantId}`,
  sk: window === null ? `QUOTA#${name}` : `QUOTA#${name}#${window}`,
});

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

export class DynamoUsageReader implements UsageReader {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readCounters(tenantId: string, now: Date): Promise<Record<QuotaName, QuotaCounter>> {
    const keys = QUOTA_NAMES.map((name) => quotaCounterKey(tenantId, name, quotaWindow(name, now).window));
    const found = new Map<string, Record<string, unknown>>();
    let pending: Record<string, unknown>[] = keys;
    for (let attempt = 0; pending.length > 0 && attempt < 5; attempt += 1) {
      try {
        const result = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) found.set(item.sk as string, item);
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      } catch (error) {
        throw translateDynamoError(error);
      }
    }
    return Object.fromEntries(
      QUOTA_NAMES.map((name, index) => {
        const item = found.get(keys[index]?.sk ?? '');
        return [name, { used: count(item?.used), reserved: count(item?.reserved) }];
      }),
    ) as Record<QuotaName, QuotaCounter>;
  }
}
