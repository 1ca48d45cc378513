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
// Vocabulary: docs/glossary.md
import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type {
  CounterRef,
  CountRequest,
  GrowRequest,
  GrowResult,
  Hold,
  HoldRequest,
  HoldResult,
  QuotaLedger,
  ReleaseOptions,
  ReleaseResult,
  RenewResult,
  SettleResult,
} from '../../core/ports/quota-ledger';
import { QuotaExceededError, type QuotaStanding } from '../../core/quotas/errors';
import { MAX_LEASE_SECONDS } from '../../core/quotas/ledger-rules';
import { TABLES } from '../../platform/tables';
import { errorName, translateDynamoError } from './errors';
import { parseItem } from './parse-item';
import {
  conditionFailureItem,
  holdAttribute,
  type QuotaItem,
  QuotaItemSchema,
  quotaCounterKey,
  REQUEST_COUNT_ATTRIBUTE,
  REQUEST_MINUTE_ATTRIBUTE,
  type RefusedQuotaItem,
  RefusedQuotaItemWireSchema,
  requestsIn,
  type StoredHold,
  storedHold,
} from './quota-items';
import type { DynamoUnitOfWork, UnitOfWorkPart } from './unit-of-work';

const TTL = TABLES.quotas.ttlAttribute;
/** Items outlive their window by a week, so last month's figures can still be looked at; per-minute
 * counters by an hour, or a busy tenant would keep ten thousand of them. */
const ttlGraceSeconds = (ref: CounterRef) => (ref.quota === 'requests_per_minute' ? 3_600 : 7 * 86_400);
/** Bounds one reclaim write well inside DynamoDB's 4 KB expression limit. */
const MAX_RECLAIM = 50;
/** A refused hold reclaims expired holds and retries at most this often. */
const MAX_RECLAIM_ROUNDS = 2;

/** A counter item's key for the log: the tenant, quota and window, nothing secret. */
const keyText = (key: Record<string, string>) => `${key.pk}/${key.sk}`;

const isConditionFailure = (error: unknown) => errorName(error) === 'ConditionalCheckFailedException';

/** After the window, and never while a hold on the item may still be live (`holdExpiresAt`, if longer). */
const itemTtl = (ref: CounterRef, nowSeconds: number, holds: boolean, holdExpiresAt = 0): number =>
  Math.max(ref.resetsAt ?? 0, holds ? Math.max(nowSeconds + MAX_LEASE_SECONDS, holdExpiresAt) : nowSeconds) +
  ttlGraceSeconds(ref);

/** Counting a request may switch minute once, and a hold may reclaim twice: a few writes at most. */
const MAX_ADMIT_ATTEMPTS = 5;
const MAX_REMEMBERED_TENANTS = 10_000;

/** The request counter's minute, and whether this write starts it (SET) or adds to it (ADD). */
interface MinutePath {
  readonly minute: string;
  readonly fresh: boolean;
}

interface UpdateParts {
  readonly set?: readonly string[];
  readonly add?: readonly string[];
  readonly conditions?: readonly string[];
  readonly names?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, unknown>>;
}

const mergeParts = (...parts: UpdateParts[]): Required<UpdateParts> => ({
  set: parts.flatMap((part) => part.set ?? []),
  add: parts.flatMap((part) => part.add ?? []),
  conditions: parts.flatMap((part) => part.conditions ?? []),
  names: Object.assign({}, ...parts.map((part) => part.names ?? {})),
  values: Object.assign({}, ...parts.map((part) => part.values ?? {})),
});

const toUpdateInput = (parts: Required<UpdateParts>) => ({
  UpdateExpression: [
    parts.set.length > 0 ? `SET ${parts.set.join(', ')}` : '',
    parts.add.length > 0 ? `ADD ${parts.add.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' '),
  ...(parts.conditions.length > 0 && {
    ConditionExpression: parts.conditions.map((condition) => `(${condition})`).join(' AND '),
  }),
  ExpressionAttributeNames: parts.names,
  ExpressionAttributeValues: parts.values,
});

/** Adds `amount` to reserved and committed under `committed <= limit - amount` (no arithmetic needed). */
const holdParts = (request: HoldRequest, attribute: string, expiresAt: number): UpdateParts => ({
  set: ['#hold = :hold'],
  // `used` is left alone: only a settle writes it (a missing `used` reads as 0).
  add: ['#reserved :amount', '#committed :amount'],
  conditions: [
    'attribute_not_exists(#hold)',
    'attribute_not_exists(#committed) OR #committed <= :committedBefore',
  ],
  names: { '#hold': attribute, '#reserved': 'reserved', '#committed': 'committed' },
  values: {
    ':hold': { amount: request.amount, expires_at: expiresAt },
    ':amount': request.amount,
    ':committedBefore': request.limit - request.amount,
  },
});

const REQUEST_NAMES = { '#rpmMinute': REQUEST_MINUTE_ATTRIBUTE, '#rpmUsed': REQUEST_COUNT_ATTRIBUTE };

/** The first request of a minute restarts the counter (SET); the others add one under the limit. */
const requestParts = (request: CountRequest, path: MinutePath): UpdateParts =>
  path.fresh
    ? {
        set: ['#rpmMinute = :rpmMinute', '#rpmUsed = :rpmOne'],
        conditions: ['attribute_not_exists(#rpmMinute) OR #rpmMinute < :rpmMinute'],
        names: REQUEST_NAMES,
        values: { ':rpmMinute': path.minute, ':rpmOne': 1 },
      }
    : {
        add: ['#rpmUsed :rpmOne'],
        conditions: ['#rpmMinute = :rpmMinute AND #rpmUsed <= :rpmBefore'],
        names: REQUEST_NAMES,
        values: { ':rpmMinute': path.minute, ':rpmOne': 1, ':rpmBefore': request.limit - 1 },
      };

/** Whether the request part of a refused write would have passed against `item` (so the hold failed). */
const requestPartHolds = (
  item: RefusedQuotaItem | undefined,
  request: CountRequest,
  path: MinutePath,
): boolean => {
  const stored = item?.requestMinute;
  if (path.fresh) return stored === undefined || stored < path.minute;
  return stored === path.minute && requestsIn(item, path.minute) <= request.limit - 1;
};

/**
 * What to write next after the request part was refused: start our minute when the item counts an older
 * one; count into the item's minute when it is ours or newer (another container's clock ahead of ours,
 * so the limit still binds); refuse when that minute is full.
 */
const nextMinutePath = (item: RefusedQuotaItem | undefined, request: CountRequest) => {
  const stored = item?.requestMinute;
  const ours = request.window as string;
  if (stored === undefined || stored < ours) return { minute: ours, fresh: true };
  if (requestsIn(item, stored) >= request.limit) return 'exceeded' as const;
  return { minute: stored, fresh: false };
};

/** The month item a minute's requests are counted on (see `requestCounterKey`). */
const monthRefOf = (request: CountRequest): CounterRef => {
  const window = (request.window as string).slice(0, 7);
  const [year, month] = window.split('-').map(Number) as [number, number];
  return {
    tenantId: request.tenantId,
    quota: 'tokens_per_month',
    window,
    resetsAt: Math.floor(Date.UTC(year, month, 1) / 1000),
  };
};

/** `committed`: as an item read it (0 when there is no item yet). */
const standingOf = (request: Pick<HoldRequest, 'limit' | 'resetsAt'>, committed = 0): QuotaStanding => ({
  limit: request.limit,
  remaining: Math.max(0, request.limit - committed),
  resetsAt: request.resetsAt,
});

const requestStanding = (request: CountRequest, used = 0) => ({
  limit: request.limit,
  remaining: Math.max(0, request.limit - used),
  resetsAt: request.resetsAt,
});

/** An update of one hold's counter item: a transaction item as it is, or one UpdateItem's input. */
type HoldUpdate = UpdateCommandInput & {
  TableName: string;
  Key: Record<string, string>;
  UpdateExpression: string;
  ConditionExpression: string;
};

/** Removes the hold and applies `add` in one write, only while the hold is still there. */
const holdUpdate = (
  tableName: string,
  hold: Hold,
  change: { add: string; names: Record<string, string>; values: Record<string, number> },
): HoldUpdate => ({
  TableName: tableName,
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

/**
 * The settle of a hold as an update: `settle` sends it alone, `settleIn` adds it to a unit of work. Its
 * condition fails when the hold is gone (settled, released or reclaimed): then nothing may be charged.
 */
const settleUpdate = (
  tableName: string,
  hold: Hold,
  used: number,
): { update: HoldUpdate; settled: Extract<SettleResult, { status: 'settled' }> } => {
  const charged = Math.min(used, hold.amount);
  const overrun = used - charged;
  return {
    update: holdUpdate(tableName, hold, {
      add: `#used :charged, #reserved :minusAmount, #committed :delta${overrun > 0 ? ', #overrun :overrun' : ''}`,
      names: { '#used': 'used', ...(overrun > 0 && { '#overrun': 'overrun' }) },
      values: {
        ':charged': charged,
        ':delta': charged - hold.amount,
        ...(overrun > 0 && { ':overrun': overrun }),
      },
    }),
    settled: { status: 'settled', charged, overrun },
  };
};

/**
 * A hold as an item of a unit of work (`holdIn`): the same update `hold` sends, returning the item when
 * refused so `DynamoQuotaLedger.afterRefusedHold` can tell why.
 */
const holdTransactUpdate = (tableName: string, request: HoldRequest): HoldUpdate => {
  const expiresAt = request.nowSeconds + request.leaseSeconds;
  const parts = mergeParts(
    {
      set: ['#ttl = :ttl'],
      names: { '#ttl': TTL },
      values: { ':ttl': itemTtl(request, request.nowSeconds, true, expiresAt) },
    },
    holdParts(request, holdAttribute(request.holdId), expiresAt),
  );
  return {
    TableName: tableName,
    Key: quotaCounterKey(request.tenantId, request.quota, request.window),
    ...toUpdateInput(parts),
    ConditionExpression: toUpdateInput(parts).ConditionExpression as string,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
};

/** The release of a hold as an update (alone, or in a unit of work: `releaseIn`). */
const releaseUpdate = (tableName: string, hold: Hold): HoldUpdate =>
  holdUpdate(tableName, hold, {
    add: '#reserved :minusAmount, #committed :minusAmount',
    names: {},
    values: {},
  });

export class DynamoQuotaLedger implements QuotaLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /**
   * Adds the settle of `hold` to another store's unit of work (the step whose usage it charges): the step
   * and its charge land together, in one write. Its item alone refused (`ConditionalCheckFailed`): the
   * hold was gone (settled, released or reclaimed), and nothing may be charged: `not_held`.
   */
  settleIn(
    uow: DynamoUnitOfWork,
    hold: Hold,
    used: number,
  ): { part: UnitOfWorkPart; settled: Extract<SettleResult, { status: 'settled' }> } {
    const { update, settled } = settleUpdate(this.tableName, hold, used);
    return { part: uow.add([{ Update: update }]), settled };
  }

  /** Adds the release of `hold` to another store's unit of work (a run's final step); refused: `not_held`. */
  releaseIn(uow: DynamoUnitOfWork, hold: Hold): UnitOfWorkPart {
    return uow.add([{ Update: releaseUpdate(this.tableName, hold) }]);
  }

  /**
   * Adds a hold to another store's unit of work (a run's slot, with the run). Its item refused: ask
   * `afterRefusedHold` with the item the refusal returned.
   */
  holdIn(uow: DynamoUnitOfWork, request: HoldRequest): UnitOfWorkPart {
    return uow.add([{ Update: holdTransactUpdate(this.tableName, request) }]);
  }

  /**
   * After `holdTransactUpdate(request)` was refused inside a transaction, with the item it returned (as
   * the unit of work's `ItemRefusal.item`, in wire format: parsed here): `held` when this hold id is already there
   * (a retry), `retry` once expired holds were reclaimed (unless `mayReclaim` is false: the caller has
   * retried enough); otherwise the quota is full and `QuotaExceededError` is thrown.
   */
  async afterRefusedHold(
    request: HoldRequest,
    refused: unknown,
    { mayReclaim = true }: { mayReclaim?: boolean } = {},
  ): Promise<'held' | 'retry'> {
    const key = quotaCounterKey(request.tenantId, request.quota, request.window);
    const item = this.refusedItem(refused, key);
    if (storedHold(item, request.holdId)) return 'held';
    await this.reclaimOrRefuse(
      key,
      item,
      request.nowSeconds,
      mayReclaim,
      () =>
        new QuotaExceededError(request.quota, standingOf(request, item?.committed), request.nowSeconds, {
          requested: request.amount,
        }),
    );
    return 'retry';
  }

  /** The minute each tenant's last request counted in: the next request guesses its write from it. */
  private readonly minutes = new Map<string, string>();

  async count(request: CountRequest): Promise<QuotaStanding & { remaining: number }> {
    if (request.quota === 'requests_per_minute') {
      const ref = monthRefOf(request);
      const { counted } = await this.admit(ref, request, undefined);
      return counted as QuotaStanding & { remaining: number };
    }
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
      return { limit, remaining: Math.max(0, limit - (result?.used ?? 0)), resetsAt };
    } catch (error) {
      if (!isConditionFailure(error)) throw translateDynamoError(error);
      throw new QuotaExceededError(request.quota, { limit, remaining: 0, resetsAt }, nowSeconds, {
        cause: error,
      });
    }
  }

  async hold(request: HoldRequest): Promise<HoldResult> {
    const ref: CounterRef = {
      tenantId: request.tenantId,
      quota: request.quota,
      window: request.window,
      resetsAt: request.resetsAt,
    };
    const counting = request.countRequest;
    if (counting) {
      const month = monthRefOf(counting);
      if (
        counting.tenantId !== request.tenantId ||
        request.quota !== 'tokens_per_month' ||
        month.window !== request.window
      ) {
        throw new Error(
          'DynamoQuotaLedger: a request is counted only with a hold on the same month of tokens',
        );
      }
    }
    const result = await this.admit(ref, counting, request);
    return result as HoldResult;
  }

  /**
   * One UpdateItem that counts a request (`counting`), holds tokens (`holding`), or both. A refusal
   * returns the item, which says which part failed: a request counter of another minute switches the
   * write to that minute; expired holds are reclaimed, then the write is retried.
   */
  private async admit(
    ref: CounterRef,
    counting: CountRequest | undefined,
    holding: HoldRequest | undefined,
  ): Promise<{ hold?: Hold; standing?: QuotaStanding; counted?: QuotaStanding & { remaining: number } }> {
    const nowSeconds = holding?.nowSeconds ?? counting?.nowSeconds ?? 0;
    const key = quotaCounterKey(ref.tenantId, ref.quota, ref.window);
    const attribute = holding ? holdAttribute(holding.holdId) : undefined;
    const expiresAt = holding ? nowSeconds + holding.leaseSeconds : 0;
    let minute: MinutePath | undefined = counting && {
      minute: counting.window as string,
      fresh: this.minutes.get(counting.tenantId) !== counting.window,
    };
    let reclaims = 0;
    for (let attempt = 0; attempt < MAX_ADMIT_ATTEMPTS; attempt += 1) {
      const parts = mergeParts(
        {
          set: ['#ttl = :ttl'],
          names: { '#ttl': TTL },
          values: { ':ttl': itemTtl(ref, nowSeconds, holding !== undefined, expiresAt) },
        },
        holding && attribute ? holdParts(holding, attribute, expiresAt) : {},
        counting && minute ? requestParts(counting, minute) : {},
      );
      try {
        const result = await this.update({ Key: key, ...toUpdateInput(parts), ReturnValues: 'UPDATED_NEW' });
        if (counting && minute) this.rememberMinute(counting.tenantId, minute.minute);
        return {
          ...(holding && {
            hold: { ...ref, holdId: holding.holdId, amount: holding.amount, expiresAt },
            standing: standingOf(holding, result?.committed),
          }),
          ...(counting && { counted: requestStanding(counting, result?.requestCount) }),
        };
      } catch (error) {
        if (!isConditionFailure(error)) throw translateDynamoError(error);
        const item = this.refusedItem(conditionFailureItem(error), key);
        if (holding && attribute) {
          const existing = storedHold(item, holding.holdId);
          // The same hold id again (a retried call, a redelivered step): hand back what is held. The
          // attempt that took it counted the request.
          if (existing) {
            return {
              hold: {
                ...ref,
                holdId: holding.holdId,
                amount: existing.amount,
                expiresAt: existing.expiresAt,
              },
              standing: standingOf(holding, item?.committed),
            };
          }
        }
        if (counting && minute && !requestPartHolds(item, counting, minute)) {
          const next = nextMinutePath(item, counting);
          if (next === 'exceeded') {
            const standing = { limit: counting.limit, remaining: 0, resetsAt: counting.resetsAt };
            throw new QuotaExceededError('requests_per_minute', standing, nowSeconds, { cause: error });
          }
          minute = next;
          continue;
        }
        if (!holding) continue;
        await this.reclaimOrRefuse(
          key,
          item,
          nowSeconds,
          reclaims < MAX_RECLAIM_ROUNDS,
          () =>
            new QuotaExceededError(holding.quota, standingOf(holding, item?.committed), nowSeconds, {
              requested: holding.amount,
              cause: error,
            }),
        );
        reclaims += 1;
      }
    }
    // Only a counter that keeps changing minute under us gets here (clocks far apart): refuse softly.
    throw new QuotaExceededError(
      counting ? 'requests_per_minute' : ref.quota,
      { limit: counting?.limit ?? holding?.limit ?? 0, resetsAt: counting?.resetsAt ?? ref.resetsAt },
      nowSeconds,
    );
  }

  private rememberMinute(tenantId: string, minute: string): void {
    if (this.minutes.size >= MAX_REMEMBERED_TENANTS) this.minutes.clear();
    this.minutes.set(tenantId, minute);
  }

  async settle(hold: Hold, used: number): Promise<SettleResult> {
    const { update, settled } = settleUpdate(this.tableName, hold, used);
    return (await this.applyToHold(update)) ? settled : { status: 'not_held' };
  }

  async release(hold: Hold, options: ReleaseOptions = {}): Promise<ReleaseResult> {
    const { uncount } = options;
    if (uncount) {
      if (uncount.tenantId !== hold.tenantId || monthRefOf(uncount).window !== hold.window) {
        throw new Error(
          'DynamoQuotaLedger: a request is uncounted only with a hold on the same month of tokens',
        );
      }
      // The count goes back with the hold, in its minute only: a later minute counts afresh without it.
      const update = releaseUpdate(this.tableName, hold);
      try {
        await this.update({
          ...update,
          UpdateExpression: `${update.UpdateExpression}, #rpmUsed :minusOne`,
          ConditionExpression: `${update.ConditionExpression} AND #rpmMinute = :rpmMinute AND #rpmUsed >= :one`,
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...REQUEST_NAMES },
          ExpressionAttributeValues: {
            ...update.ExpressionAttributeValues,
            ':minusOne': -1,
            ':one': 1,
            ':rpmMinute': uncount.window,
          },
        });
        return { status: 'released' };
      } catch (error) {
        if (!isConditionFailure(error)) throw translateDynamoError(error);
        const held = storedHold(this.refusedItem(conditionFailureItem(error), update.Key), hold.holdId);
        // The hold is gone (an earlier attempt gave it back, and the count with it): nothing to do.
        if (held?.amount !== hold.amount) return { status: 'not_held' };
        // The minute has moved on: its count is gone already, so only the hold goes back.
      }
    }
    const released = await this.applyToHold(releaseUpdate(this.tableName, hold));
    return released ? { status: 'released' } : { status: 'not_held' };
  }

  /**
   * Raises the hold's amount by the difference, under `committed <= limit - difference`. A refusal
   * reclaims expired holds and tries again, as `hold` does; the hold stays as it was when refused.
   */
  async grow(hold: Hold, request: GrowRequest): Promise<GrowResult> {
    const delta = request.amount - hold.amount;
    if (!Number.isSafeInteger(delta) || delta < 0 || request.amount > request.limit) {
      throw new Error(`DynamoQuotaLedger: cannot grow a hold of ${hold.amount} to ${request.amount}`);
    }
    const standing = (committed?: number) =>
      standingOf({ limit: request.limit, resetsAt: hold.resetsAt }, committed);
    const grown = { ...hold, amount: request.amount };
    const key = quotaCounterKey(hold.tenantId, hold.quota, hold.window);
    for (let reclaims = 0; ; reclaims += 1) {
      try {
        const result = await this.update({
          Key: key,
          UpdateExpression: 'SET #hold.#amount = :amount ADD #reserved :delta, #committed :delta',
          ConditionExpression: '#hold.#amount = :before AND #committed <= :committedBefore',
          ExpressionAttributeNames: {
            '#hold': holdAttribute(hold.holdId),
            '#amount': 'amount',
            '#reserved': 'reserved',
            '#committed': 'committed',
          },
          ExpressionAttributeValues: {
            ':amount': request.amount,
            ':before': hold.amount,
            ':delta': delta,
            ':committedBefore': request.limit - delta,
          },
          ReturnValues: 'UPDATED_NEW',
        });
        return { status: 'grown', hold: grown, standing: standing(result?.committed) };
      } catch (error) {
        if (!isConditionFailure(error)) throw translateDynamoError(error);
        const item = this.refusedItem(conditionFailureItem(error), key);
        const held = storedHold(item, hold.holdId);
        if (held?.amount === request.amount) {
          // An earlier attempt of this very call grew it (an SDK retry after a lost answer).
          return { status: 'grown', hold: grown, standing: standing(item?.committed) };
        }
        if (held?.amount !== hold.amount) return { status: 'not_held' };
        await this.reclaimOrRefuse(
          key,
          item,
          request.nowSeconds,
          reclaims < MAX_RECLAIM_ROUNDS,
          () =>
            new QuotaExceededError(hold.quota, standing(item?.committed), request.nowSeconds, {
              requested: request.amount,
              cause: error,
            }),
        );
      }
    }
  }

  /**
   * Sets the hold's `expires_at`, while it is the same hold. The item's TTL is left as it is: it was set
   * when the hold was taken to outlive the longest lease by the item's grace (a week), which a renewal to
   * at most MAX_LEASE_SECONDS from now stays well inside.
   */
  async renew(hold: Hold, expiresAt: number): Promise<RenewResult> {
    const renewed = await this.applyToHold({
      TableName: this.tableName,
      Key: quotaCounterKey(hold.tenantId, hold.quota, hold.window),
      UpdateExpression: 'SET #hold.#exp = :exp',
      ConditionExpression: '#hold.#amount = :amount',
      ExpressionAttributeNames: {
        '#hold': holdAttribute(hold.holdId),
        '#exp': 'expires_at',
        '#amount': 'amount',
      },
      ExpressionAttributeValues: { ':exp': expiresAt, ':amount': hold.amount },
    });
    return renewed ? { status: 'renewed' } : { status: 'not_held' };
  }

  /** One write that only applies while the hold is still there; false when it is not. */
  private async applyToHold(update: HoldUpdate): Promise<boolean> {
    try {
      await this.update(update);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw translateDynamoError(error);
    }
  }

  /**
   * After a write the quota's bound refused, with the item it returned: reclaims the item's expired holds
   * so the caller can try again, or throws `refusal()` when there are none (or `mayReclaim` is false: the
   * caller has retried enough). The one policy of `hold`, `grow` and a store's transaction holds.
   */
  private async reclaimOrRefuse(
    key: Record<string, string>,
    item: RefusedQuotaItem | undefined,
    nowSeconds: number,
    mayReclaim: boolean,
    refusal: () => Error,
  ): Promise<void> {
    const expired = (item?.holds ?? []).filter((hold) => hold.expiresAt <= nowSeconds);
    if (expired.length === 0 || !mayReclaim) throw refusal();
    await this.reclaim(key, expired.slice(0, MAX_RECLAIM));
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

  /** Sends one UpdateItem; what it returns (`UPDATED_NEW`), if anything, is parsed. */
  private async update(
    input: Omit<UpdateCommandInput, 'TableName'> & { Key: Record<string, string> },
  ): Promise<QuotaItem | undefined> {
    const output = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...input,
      }),
    );
    const attributes = output.Attributes;
    return attributes && parseItem(QuotaItemSchema, attributes, this.tableName, () => keyText(input.Key));
  }

  /** The item a refused write returned (wire format), parsed; undefined when there was none. */
  private refusedItem(item: unknown, key: Record<string, string>): RefusedQuotaItem | undefined {
    return item === undefined
      ? undefined
      : parseItem(RefusedQuotaItemWireSchema, item, this.tableName, () => keyText(key));
  }
}
