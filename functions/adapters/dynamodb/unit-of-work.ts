// Adapter: one DynamoDB transaction that several stores add their items to (a unit of work). Each store adds
// a part (its items, in order) and keeps the handle; the transaction commits once, as one TransactWriteItems;
// a cancelled transaction hands every part back its own reasons, so each store turns them into its own
// domain error. Who adds what decides the transaction's boundary: the caller, not one store holding another.
import {
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { errorName, translateDynamoError } from './errors';
import { conditionFailureItem } from './quota-items';

/** One item of a TransactWriteItems. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Why one item of a cancelled transaction was refused: its code, and the item it returned (wire format). */
interface ItemRefusal {
  /** `None` for an item that was not the reason, `ConditionalCheckFailed`, `TransactionConflict`… */
  readonly code: string | undefined;
  /** What the item held when refused, for an item written with `ReturnValuesOnConditionCheckFailure`. */
  readonly item: unknown;
}

/** A store's items in a unit of work; the handle a store reads its refusal back with. */
export interface UnitOfWorkPart {
  readonly items: readonly TransactItem[];
}

/** Codes of items that did not stop the transaction. */
const notRefused = (code: string | undefined) => code === undefined || code === 'None';

/**
 * A cancelled unit of work. It stays inside the adapters: each store that added a part turns its own
 * `reasonsOf(part)` into a domain error (or a retry), and anything left is `translateDynamoError(cause)`.
 */
export class UnitOfWorkCancelledError extends Error {
  constructor(
    private readonly parts: readonly UnitOfWorkPart[],
    private readonly reasons: readonly ItemRefusal[],
    options: ErrorOptions,
  ) {
    super(`transaction cancelled: ${reasons.map((reason) => reason.code ?? '?').join(', ')}`, options);
    this.name = 'UnitOfWorkCancelledError';
  }

  /** The reasons for `part`'s items, indexed from its first item. */
  reasonsOf(part: UnitOfWorkPart): readonly ItemRefusal[] {
    let offset = 0;
    for (const added of this.parts) {
      if (added === part) return this.reasons.slice(offset, offset + part.items.length);
      offset += added.items.length;
    }
    throw new Error('UnitOfWork: that part was not added to this unit of work');
  }

  /** True when one of `part`'s items was refused (for whatever reason). */
  refused(part: UnitOfWorkPart): boolean {
    return this.reasonsOf(part).some((reason) => !notRefused(reason.code));
  }

  /** True when something was refused and every refused item belongs to one of `parts`. */
  refusedOnly(...parts: readonly UnitOfWorkPart[]): boolean {
    const theirs = new Set(parts.flatMap((part) => this.reasonsOf(part)));
    const refused = this.reasons.filter((reason) => !notRefused(reason.code));
    return refused.length > 0 && refused.every((reason) => theirs.has(reason));
  }

  /** Every item's code, in the order added. */
  get codes(): (string | undefined)[] {
    return this.reasons.map((reason) => reason.code);
  }

  /** True when any item of the transaction met a concurrent one (`TransactionConflict`). */
  get conflicted(): boolean {
    return this.codes.includes('TransactionConflict');
  }
}

/**
 * Collects the parts of one transaction and commits them at once.
 *
 * @example
 * const uow = new DynamoUnitOfWork(documentClient);
 * const step = uow.add(sessionItems);
 * const charge = uow.add([{ Update: settle.update }]);
 * try {
 *   await uow.commit();
 * } catch (error) {
 *   if (error instanceof UnitOfWorkCancelledError && error.refusedOnly(charge)) { ... } // the hold was gone
 * }
 */
export class DynamoUnitOfWork {
  private readonly parts: UnitOfWorkPart[] = [];
  private committed = false;

  constructor(private readonly client: DynamoDBDocumentClient) {}

  /** Adds `items` after those already added; the returned part is the handle to read a refusal with. */
  add(items: readonly TransactItem[]): UnitOfWorkPart {
    if (this.committed) throw new Error('UnitOfWork: already committed');
    const part = { items };
    this.parts.push(part);
    return part;
  }

  /**
   * One TransactWriteItems with every part's items, in the order added. A cancellation is a
   * `UnitOfWorkCancelledError`; throttling is the 503 every store gives; anything else is rethrown.
   */
  async commit(): Promise<void> {
    if (this.committed) throw new Error('UnitOfWork: already committed');
    this.committed = true;
    const items = this.parts.flatMap((part) => part.items);
    if (items.length === 0) return;
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (errorName(error) !== 'TransactionCanceledException') throw translateDynamoError(error);
      throw new UnitOfWorkCancelledError(this.parts, reasonsOf(error, items.length), { cause: error });
    }
  }
}

/** One reason per item; an item DynamoDB gave no reason for reads as not refused. */
const reasonsOf = (error: unknown, count: number): ItemRefusal[] => {
  const given =
    typeof error === 'object' && error !== null && 'CancellationReasons' in error
      ? error.CancellationReasons
      : undefined;
  const list: unknown[] = Array.isArray(given) ? given : [];
  return Array.from({ length: count }, (_, index) => {
    const reason = list[index];
    const code =
      typeof reason === 'object' && reason !== null && 'Code' in reason && typeof reason.Code === 'string'
        ? reason.Code
        : undefined;
    return { code, item: conditionFailureItem(reason) };
  });
};
