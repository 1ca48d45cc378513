// Adapter: TicketStore on DynamoDB (TABLES.connections, `TICKET#<sha256>` items with a TTL).
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  type PutCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConnectionStoreFailureError } from '../../core/connections/errors';
import { type TicketRecord, TicketRecordSchema } from '../../core/connections/schemas';
import type { TicketStore } from '../../core/ports/ticket-store';
import { TABLES } from '../../platform/tables';
import { translateConnectionsError } from './connection-store';
import { errorName } from './errors';

const TABLE = TABLES.connections;
const SK = 'TICKET';
/** DynamoDB deletes expired items within days; a day of slack keeps TTL from racing the check. */
const TTL_SLACK_SECONDS = 86_400;

// No gsi1 attributes: tickets never show up in a tenant's connection queries.
const keyOf = (ticketHash: string) => ({ [TABLE.partitionKey]: `TICKET#${ticketHash}`, [TABLE.sortKey]: SK });

export class DynamoTicketStore implements TicketStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(ticket: TicketRecord): Promise<void> {
    const input: PutCommandInput = {
      TableName: this.tableName,
      Item: {
        ...keyOf(ticket.ticket_hash),
        ...ticket,
        [TABLE.ttlAttribute]: ticket.expires_at + TTL_SLACK_SECONDS,
      },
      // 256 random bits do not collide; the condition makes sure a bug could never overwrite a ticket.
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
    };
    try {
      await this.client.send(new PutCommand(input));
    } catch (error) {
      throw translateConnectionsError('ticket put', error);
    }
  }

  async redeem(ticketHash: string, nowSeconds: number): Promise<TicketRecord | undefined> {
    let attributes: Record<string, unknown> | undefined;
    try {
      const result = await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keyOf(ticketHash),
          // The delete is the redemption: only one of concurrent callers can satisfy attribute_exists.
          ConditionExpression: 'attribute_exists(#pk) AND #exp > :now',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#exp': 'expires_at' },
          ExpressionAttributeValues: { ':now': nowSeconds },
          ReturnValues: 'ALL_OLD',
        }),
      );
      attributes = result.Attributes;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return undefined;
      throw translateConnectionsError('ticket redeem', error);
    }
    if (!attributes) return undefined;
    const parsed = TicketRecordSchema.safeParse(attributes);
    if (!parsed.success) {
      throw new ConnectionStoreFailureError(`ticket item ${ticketHash.slice(0, 8)}… is malformed`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }
}
