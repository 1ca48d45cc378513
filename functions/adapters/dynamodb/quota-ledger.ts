// Adapter: QuotaLedger on DynamoDB (TABLES.quotas); item layout in quota-items.ts. Every operation is
// one UpdateItem whose condition bounds are computed here (a condition cannot do arithmetic), with all
// names and values passed as placeholders. A failed condition is a QuotaExceededError.
//
// Why it cannot overspend: a hold adds its amount to `committed` (= used + reserved) under the
// condition `committed <= limit - amount`; a settle only ever lowers `committed` (usage is capped at
// the hold), and a release lowers it by the hold. So `used <= committed <= limit` after every write.
// Why retries are safe: settle and release are conditioned on the hold attribute still being there
// and remove it in the same write, so a second attempt (an SDK retry, a redelivered message) finds it
// gone and changes nothing; a repeated hold id finds its hold and returns it.
// Stale holds: a crashed caller's hold stays counted until its lease ends. It is reclaimed lazily by
// the first hold that the condition refuses (the refusal returns the item, so finding it costs no
// read): one conditional write per batch of expired holds, then the hold is retried. Usage reports
// leave expired holds out at once.
import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type {
  CounterRef,
  CountRequest,
  Hold,
  HoldRequest,
  QuotaLedger,
  ReleaseResult,
  SettleResult,
} from '../../core/ports/quota-ledger';
import { QuotaExceededError, type QuotaStanding } from '../../core/quotas/errors';
import { MAX_LEASE_SECONDS } from '../../core/quotas/ledger-rules';
import { TABLES } from '../../platform/tables';
import { errorName, translateDynamoError } from './errors';
import {
  conditionFailureItem,
  count,
  holdAttribute,
  holdsOf,
  quotaCounterKey,
  type StoredHold,
} from './quota-items';

const TTL = TABLES.quotas.ttlAttribute;
/** Items outlive their window by a week, so last month's figures can still be looked at; per-minute
 * counters by an hour, or a busy tenant would keep ten thousand of them. */
const ttlGraceSeconds = (ref: CounterRef) => (ref.quota === 'requests_per_minute' ? 3_600 : 7 * 86_400);
/** Bounds one reclaim write well inside DynamoDB's 4 KB expression limit. */
const MAX_RECLAIM = 50;
/** A refused hold reclaims expired holds and retries at most this often. */
const MAX_RECLAIM_ROUNDS = 2;

const isConditionFailure = (error: unknown) => errorName(error) === 'ConditionalCheckFailedException';

/** After the window, and never while a hold on the item may still be live (`holdExpiresAt`, if longer). */
const itemTtl = (ref: CounterRef, nowSeconds: number, holds: boolean, holdExpiresAt = 0): number =>
  Math.max(ref.resetsAt ?? 0, holds ? Math.max(nowSeconds + MAX_LEASE_SECONDS, holdExpiresAt) : nowSeconds) +
  ttlGraceSeconds(ref);

export class DynamoQuotaLedger implements QuotaLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async count(request: CountRequest): Promise<QuotaStanding & { remaining: number }> {
    const { limit, resetsAt, nowSeconds } = request;
    try {
      const result = await this.update({
        Key: quotaCounterKey(request.tenantId, request.quota, request.window),
        UpdateExpression: 'ADD #used :one SET #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(#used) OR #used <= :usedBefore',
        ExpressionAttributeNames: { '#used': 'used', '#ttl': TTL },
        ExpressionAttributeValues: {
          ':one': 1,
          ':usedBefore': limit - 1,
          ':ttl': itemTtl(request, nowSeconds, false),
        },
        ReturnValues: 'UPDATED_NEW',
      });
      return { limit, remaining: Math.max(0, limit - count(result?.used)), resetsAt };
    } catch (error) {
      if (!isConditionFailure(error)) throw translateDynamoError(error);
      throw new QuotaExceededError(request.quota, { limit, remaining: 0, resetsAt }, nowSeconds, {
        cause: error,
      });
    }
  }

  async hold(request: HoldRequest): Promise<{ hold: Hold; standing: QuotaStanding }> {
    const { limit, amount, resetsAt, nowSeconds } = request;
    const key = quotaCounterKey(request.tenantId, request.quota, request.window);
    const attribute = holdAttribute(request.holdId);
    const ref: CounterRef = {
      tenantId: request.tenantId,
      quota: request.quota,
      window: request.window,
      resetsAt,
    };
    const expiresAt = nowSeconds + request.leaseSeconds;
    for (let round = 0; ; round += 1) {
      try {
        const result = await this.update({
          Key: key,
          UpdateExpression:
            'SET #hold = :hold, #ttl = :ttl ADD #reserved :amount, #committed :amount, #used :zero',
          ConditionExpression:
            'attribute_not_exists(#hold) AND (attribute_not_exists(#committed) OR #committed <= :committedBefore)',
          ExpressionAttributeNames: {
            '#hold': attribute,
            '#ttl': TTL,
            '#reserved': 'reserved',
            '#committed': 'committed',
            '#used': 'used',
          },
          ExpressionAttributeValues: {
            ':hold': { amount, expires_at: expiresAt },
            ':ttl': itemTtl(ref, nowSeconds, true, expiresAt),
            ':amount': amount,
            ':zero': 0,
            ':committedBefore': limit - amount,
          },
          ReturnValues: 'UPDATED_NEW',
        });
        const standing = { limit, remaining: Math.max(0, limit - count(result?.committed)), resetsAt };
        return { hold: { ...ref, holdId: request.holdId, amount, expiresAt }, standing };
      } catch (error) {
        if (!isConditionFailure(error)) throw translateDynamoError(error);
        const item = conditionFailureItem(error);
        const holds = holdsOf(item);
        const standing = { limit, remaining: Math.max(0, limit - count(item?.committed)), resetsAt };
        const existing = holds.find((hold) => hold.attribute === attribute);
        // The same hold id again (a retried call, a redelivered step): hand back what is held.
        if (existing) {
          return {
            hold: { ...ref, holdId: request.holdId, amount: existing.amount, expiresAt: existing.expiresAt },
            standing,
          };
        }
        const expired = holds.filter((hold) => hold.expiresAt <= nowSeconds);
        if (expired.length === 0 || round >= MAX_RECLAIM_ROUNDS) {
          throw new QuotaExceededError(request.quota, standing, nowSeconds, {
            requested: amount,
            cause: error,
          });
        }
        await this.reclaim(key, expired.slice(0, MAX_RECLAIM));
      }
    }
  }

  async settle(hold: Hold, used: number): Promise<SettleResult> {
    const charged = Math.min(used, hold.amount);
    const overrun = used - charged;
    const applied = await this.applyToHold(hold, {
      add: `#used :charged, #reserved :minusAmount, #committed :delta${overrun > 0 ? ', #overrun :overrun' : ''}`,
      names: { '#used': 'used', ...(overrun > 0 && { '#overrun': 'overrun' }) },
      values: {
        ':charged': charged,
        ':delta': charged - hold.amount,
        ...(overrun > 0 && { ':overrun': overrun }),
      },
    });
    return applied ? { status: 'settled', charged, overrun } : { status: 'not_held' };
  }

  async release(hold: Hold): Promise<ReleaseResult> {
    const applied = await this.applyToHold(hold, {
      add: '#reserved :minusAmount, #committed :minusAmount',
      names: {},
      values: {},
    });
    return applied ? { status: 'released' } : { status: 'not_held' };
  }

  /** Removes the hold and applies `add` in one write, only while the hold is still there. */
  private async applyToHold(
    hold: Hold,
    change: { add: string; names: Record<string, string>; values: Record<string, number> },
  ): Promise<boolean> {
    try {
      await this.update({
        Key: quotaCounterKey(hold.tenantId, hold.quota, hold.window),
        UpdateExpression: `REMOVE #hold ADD ${change.add}`,
        ConditionExpression: '#hold.#amount = :amount',
        ExpressionAttributeNames: {
          '#hold': holdAttribute(hold.holdId),
          '#amount': 'amount',
          '#reserved': 'reserved',
          '#committed': 'committed',
          ...change.names,
        },
        ExpressionAttributeValues: { ':amount': hold.amount, ':minusAmount': -hold.amount, ...change.values },
      });
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw translateDynamoError(error);
    }
  }

  /**
   * Gives back holds whose lease ran out (their holders crashed), each only if it is still the same
   * hold; losing a race to a settle or another reclaim is fine: the caller simply retries its hold.
   */
  private async reclaim(key: Record<string, string>, expired: readonly StoredHold[]): Promise<void> {
    const total = expired.reduce((sum, hold) => sum + hold.amount, 0);
    const names: Record<string, string> = {
      '#reserved': 'reserved',
      '#committed': 'committed',
      '#exp': 'expires_at',
    };
    const values: Record<string, number> = { ':minusTotal': -total };
    expired.forEach((hold, index) => {
      names[`#h${index}`] = hold.attribute;
      values[`:e${index}`] = hold.expiresAt;
    });
    try {
      await this.update({
        Key: key,
        UpdateExpression: `REMOVE ${expired.map((_, i) => `#h${i}`).join(', ')} ADD #reserved :minusTotal, #committed :minusTotal`,
        ConditionExpression: expired.map((_, i) => `#h${i}.#exp = :e${i}`).join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
    } catch (error) {
      if (!isConditionFailure(error)) throw translateDynamoError(error);
    }
  }

  private async update(
    input: Omit<UpdateCommandInput, 'TableName'>,
  ): Promise<Record<string, unknown> | undefined> {
    const output = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...input,
      }),
    );
    return output.Attributes;
  }
}
