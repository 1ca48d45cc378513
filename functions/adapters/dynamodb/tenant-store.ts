// Adapter: TenantStore on DynamoDB. One table: the tenant item, its key items, and a key-hash lookup item.
//   tenant   pk TENANT#<id>        sk TENANT        gsi1pk TENANTS  gsi1sk <id>   (ids sort by creation)
//   api key  pk TENANT#<id>        sk KEY#<keyId>
//   lookup   pk KEYHASH#<sha256>   sk KEYHASH       -> tenant_id, key_id
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { decodeCursor, type Page, type PageRequest } from '../../core/pagination';
import type { ApiKeyHashEntry, TenantStore } from '../../core/ports/tenant-store';
import { ApiKeyNotFoundError, TenantConflictError, TenantNotFoundError } from '../../core/tenants/errors';
import {
  API_KEY_ID_PATTERN,
  type ApiKeyRecord,
  ApiKeyRecordSchema,
  TENANT_ID_PATTERN,
  type TenantChanges,
  type TenantRecord,
  TenantRecordSchema,
} from '../../core/tenants/schemas';
import { cancellationCodes, errorName, translateDynamoError } from './errors';
import { itemKey, parseItem } from './parse-item';
import { queryPage } from './query-page';

type Item = Record<string, unknown>;

const TENANTS_INDEX = 'gsi1';
const TENANTS_PARTITION = 'TENANTS';
const tenantKey = (tenantId: string) => ({ pk: `TENANT#${tenantId}`, sk: 'TENANT' });
const apiKeyKey = (tenantId: string, keyId: string) => ({ pk: `TENANT#${tenantId}`, sk: `KEY#${keyId}` });
const hashKey = (keyHash: string) => ({ pk: `KEYHASH#${keyHash}`, sk: 'KEYHASH' });
const MAX_BATCH_ATTEMPTS = 5;

// The items as stored: the records' fields (key attributes and `entity` are dropped by the parse), with
// the absences older writers left read as the values written since.
const TenantItemSchema = TenantRecordSchema.extend({
  quota_overrides: TenantRecordSchema.shape.quota_overrides.default({}),
  models: TenantRecordSchema.shape.models.default(null),
  default_model: z.string().nullable().default(null),
  tools: TenantRecordSchema.shape.tools.default(null),
});
const ApiKeyItemSchema = ApiKeyRecordSchema.extend({
  // Absent until revoked, so `if_not_exists` can keep the first revocation time.
  revoked_at: ApiKeyRecordSchema.shape.revoked_at.default(null),
});
const KeyHashItemSchema = z
  .object({ tenant_id: z.string().min(1), key_id: z.string().min(1), key_hash: z.string().min(1) })
  .transform(
    (item): ApiKeyHashEntry => ({ tenantId: item.tenant_id, keyId: item.key_id, keyHash: item.key_hash }),
  );

export class DynamoTenantStore implements TenantStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createTenant(tenant: TenantRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...tenantKey(tenant.id),
            gsi1pk: TENANTS_PARTITION,
            gsi1sk: tenant.id,
            entity: 'tenant',
            ...tenant,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') {
        throw new TenantConflictError(`A tenant with id '${tenant.id}' already exists`, { cause: error });
      }
      throw translateDynamoError(error);
    }
  }

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const { Item } = await this.guard(() =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: tenantKey(tenantId), ConsistentRead: true }),
      ),
    );
    return Item ? this.toTenant(Item) : undefined;
  }

  async listTenants(page: PageRequest): Promise<Page<TenantRecord>> {
    const afterId = page.cursor === undefined ? undefined : decodeCursor(page.cursor, TENANT_ID_PATTERN);
    return queryPage(
      this.client,
      {
        TableName: this.tableName,
        IndexName: TENANTS_INDEX,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'gsi1pk' },
        ExpressionAttributeValues: { ':pk': TENANTS_PARTITION },
        // The start key is rebuilt from the validated id, never taken from the client.
        ...(afterId && {
          ExclusiveStartKey: { ...tenantKey(afterId), gsi1pk: TENANTS_PARTITION, gsi1sk: afterId },
        }),
      },
      page.limit,
      (items) => items.map((item) => this.toTenant(item)),
    );
  }

  async updateTenant(tenantId: string, changes: TenantChanges): Promise<TenantRecord> {
    const fields = Object.entries(changes).filter(([, value]) => value !== undefined);
    const names = Object.fromEntries(fields.map(([name], index) => [`#f${index}`, name]));
    const values = Object.fromEntries(fields.map(([, value], index) => [`:v${index}`, value]));
    let updated: Item | undefined;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: tenantKey(tenantId),
          UpdateExpression: `SET ${fields.map((_, index) => `#f${index} = :v${index}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      updated = Attributes;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') {
        throw new TenantNotFoundError(tenantId, { cause: error });
      }
      throw translateDynamoError(error);
    }
    return this.toTenant(updated ?? {});
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    const { revoked_at: _notYet, ...fields } = key;
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: tenantKey(key.tenant_id),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...apiKeyKey(key.tenant_id, key.id), entity: 'api_key', ...fields },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...hashKey(key.key_hash),
                  entity: 'api_key_hash',
                  tenant_id: key.tenant_id,
                  key_id: key.id,
                  key_hash: key.key_hash,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.[0] === 'ConditionalCheckFailed')
        throw new TenantNotFoundError(key.tenant_id, { cause: error });
      if (codes?.some((code) => code === 'ConditionalCheckFailed')) {
        throw new TenantConflictError('An API key with this id or hash already exists', { cause: error });
      }
      throw translateDynamoError(error);
    }
  }

  async listApiKeys(tenantId: string, page: PageRequest): Promise<Page<ApiKeyRecord>> {
    const afterId = page.cursor === undefined ? undefined : decodeCursor(page.cursor, API_KEY_ID_PATTERN);
    return queryPage(
      this.client,
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': `TENANT#${tenantId}`, ':prefix': 'KEY#' },
        ConsistentRead: true,
        ...(afterId && { ExclusiveStartKey: apiKeyKey(tenantId, afterId) }),
      },
      page.limit,
      (items) => items.map((item) => this.toApiKey(item)),
    );
  }

  async revokeApiKey(tenantId: string, keyId: string, revokedAt: number): Promise<ApiKeyRecord> {
    let updated: Item | undefined;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: apiKeyKey(tenantId, keyId),
          UpdateExpression: 'SET #revoked = if_not_exists(#revoked, :now)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#revoked': 'revoked_at' },
          ExpressionAttributeValues: { ':now': revokedAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      updated = Attributes;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') {
        throw new ApiKeyNotFoundError(keyId, { cause: error });
      }
      throw translateDynamoError(error);
    }
    return this.toApiKey(updated ?? {});
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyHashEntry | undefined> {
    const { Item } = await this.guard(() =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: hashKey(keyHash), ConsistentRead: true }),
      ),
    );
    // The key holds the hash: the log gets a few characters of it, enough to find the item.
    return Item
      ? parseItem(KeyHashItemSchema, Item, this.tableName, () => `KEYHASH#${keyHash.slice(0, 8)}…`)
      : undefined;
  }

  async getApiKeyWithTenant(
    tenantId: string,
    keyId: string,
  ): Promise<{ key: ApiKeyRecord | undefined; tenant: TenantRecord | undefined }> {
    let keys: Item[] = [tenantKey(tenantId), apiKeyKey(tenantId, keyId)];
    const found: Item[] = [];
    // BatchGet may hand keys back unprocessed under load; ask again for just those.
    for (let attempt = 0; keys.length > 0 && attempt < MAX_BATCH_ATTEMPTS; attempt += 1) {
      const result = await this.guard(() =>
        this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        ),
      );
      found.push(...(result.Responses?.[this.tableName] ?? []));
      keys = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    if (keys.length > 0)
      throw translateDynamoError(
        Object.assign(new Error('unprocessed keys'), { name: 'ThrottlingException' }),
      );
    const tenantItem = found.find((item) => item.sk === 'TENANT');
    const keyItem = found.find((item) => item.sk === `KEY#${keyId}`);
    return { tenant: tenantItem && this.toTenant(tenantItem), key: keyItem && this.toApiKey(keyItem) };
  }

  private toTenant(item: Item): TenantRecord {
    return parseItem(TenantItemSchema, item, this.tableName, () => itemKey(item));
  }

  private toApiKey(item: Item): ApiKeyRecord {
    return parseItem(ApiKeyItemSchema, item, this.tableName, () => itemKey(item));
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateDynamoError(error);
    }
  }
}
