// Adapter: one cursor page of a DynamoDB Query, shared by the stores that list things.
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { encodeCursor, type Page } from '../../core/pagination';
import { translateDynamoError } from './errors';

type Item = Record<string, unknown>;

/**
 * Reads one item past the page so `has_more` is exact, following DynamoDB's own 1 MB pages; the cursor is
 * the last returned item's id. SDK errors arrive as domain errors.
 *
 * @example
 * const page = await queryPage(client, { TableName, KeyConditionExpression, ... }, 20, (items) => items.map(toTenant));
 */
export const queryPage = async <T extends { id: string }>(
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
  limit: number,
  map: (items: Item[]) => Promise<T[]> | T[],
): Promise<Page<T>> => {
  const items: Item[] = [];
  let startKey = input.ExclusiveStartKey;
  do {
    let result: QueryCommandOutput;
    try {
      result = await client.send(
        new QueryCommand({ ...input, Limit: limit + 1 - items.length, ExclusiveStartKey: startKey }),
      );
    } catch (error) {
      throw translateDynamoError(error);
    }
    items.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
  } while (startKey && items.length <= limit);
  const page = await map(items.slice(0, limit));
  const last = page.at(-1);
  return items.length > limit && last ? { items: page, nextCursor: encodeCursor(last.id) } : { items: page };
};
