// Infra tests: the local model read from the synthesized templates covers the whole manifest (parity, half 1).
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/platform/env';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../../functions/platform/functions';
import { QUEUES, type QueueName } from '../../functions/platform/queues';
import {
  HTTP_ROUTES,
  routeKeyOf,
  WS_ROUTE_SELECTION_EXPRESSION,
  WS_ROUTES,
} from '../../functions/platform/routes';
import { TABLES, type TableName } from '../../functions/platform/tables';
import { loadStageConfig } from '../../lib/config/stages';
import type { LocalPlatformModel, LocalQueue, LocalTable } from '../../local/model';
import { synthesizeModel } from '../../local/platform';
import { loadLocalModel } from '../../local/template-model';

const STAGE = 'dev';
let model: LocalPlatformModel;
const config = loadStageConfig(STAGE);
const catalogue = Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][];

beforeAll(async () => {
  model = await loadLocalModel({ stage: STAGE });
});

/** The local table a table variable points at, as every function that has it agrees. */
const tableFor = (name: TableName): LocalTable => {
  const names = new Set(
    model.functions.flatMap((fn) => {
      const value = fn.environment[TABLES[name].envVar];
      return value?.kind === 'table' ? [value.table] : [];
    }),
  );
  expect(names.size, name).toBe(1);
  return model.tables.find((table) => table.name === [...names][0])!;
};

const queueFor = (name: QueueName): LocalQueue => {
  const names = new Set(
    model.functions.flatMap((fn) => {
      const value = fn.environment[QUEUES[name].envVar];
      return value?.kind === 'queueUrl' ? [value.queue] : [];
    }),
  );
  expect(names.size, name).toBe(1);
  return model.queues.find((queue) => queue.name === [...names][0])!;
};

describe('loadLocalModel', () => {
  it('models every table of the manifest with its keys, indexes and TTL', () => {
    for (const name of Object.keys(TABLES) as TableName[]) {
      const definition = TABLES[name];
      const table = tableFor(name);
      expect(table, name).toBeDefined();
      expect(table.keySchema[0]).toEqual({ AttributeName: definition.partitionKey, KeyType: 'HASH' });
      expect(table.keySchema[1]?.AttributeName).toBe(
        'sortKey' in definition ? definition.sortKey : undefined,
      );
      expect(table.globalSecondaryIndexes.map((gsi) => gsi.IndexName)).toEqual(
        definition.indexes.map((i) => i.name),
      );
      for (const index of definition.indexes) {
        const gsi = table.globalSecondaryIndexes.find((g) => g.IndexName === index.name)!;
        expect(gsi.KeySchema.map((key) => key.AttributeName)).toEqual(
          [index.partitionKey, index.sortKey].filter(Boolean),
        );
        for (const key of gsi.KeySchema) {
          expect(table.attributeDefinitions.map((a) => a.AttributeName)).toContain(key.AttributeName);
        }
      }
      expect(table.ttlAttribute).toBe(definition.ttlAttribute);
    }
  });

  it('models every queue with its DLQ, retention order and consumer visibility timeout', () => {
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const queue = queueFor(name);
      expect(queue.redrive?.maxReceiveCount).toBe(config.queues.maxReceiveCount);
      const dlq = model.queues.find((q) => q.name === queue.redrive?.deadLetterQueue);
      expect(dlq, `${name} DLQ`).toBeDefined();
      expect(dlq!.messageRetentionSeconds).toBeGreaterThan(queue.messageRetentionSeconds);
      const consumer = catalogue.find(([, definition]) => definition.queues?.[name] === 'consume')!;
      expect(queue.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * consumer[1].timeoutSeconds);
    }
  });

  it('models the files bucket with the stage CORS origins', () => {
    const names = new Set(
      model.functions.flatMap((fn) => {
        const value = fn.environment[ENV.filesBucket];
        return value?.kind === 'bucket' ? [value.bucket] : [];
      }),
    );
    // The files bucket is the only one a local platform needs; its access-log bucket stays in the cloud.
    expect(model.buckets).toHaveLength(1);
    const corsBuckets = model.buckets.filter((bucket) => bucket.cors.length > 0);
    expect(corsBuckets).toHaveLength(1);
    expect(corsBuckets[0]!.cors[0]!.allowedOrigins).toEqual(config.corsOrigins);
    expect(corsBuckets[0]!.cors[0]!.exposedHeaders).toContain('ETag');
    for (const name of names) expect(model.buckets.map((bucket) => bucket.name)).toContain(name);
  });

  it('models every function of the catalogue with its entry, limits and resolved environment', () => {
    expect(model.functions.map((fn) => fn.id).sort()).toEqual(Object.keys(FUNCTIONS).sort());
    for (const [id, definition] of catalogue) {
      const fn = model.functions.find((candidate) => candidate.id === id)!;
      expect(fn.entry).toBe(definition.entry);
      expect(fn.handler).toBe(definition.handler ?? 'handler');
      expect(fn.timeoutSeconds).toBe(definition.timeoutSeconds);
      expect(fn.memoryMb).toBe(definition.memoryMb);
      expect(fn.environment[ENV.stage]).toEqual({ kind: 'literal', value: STAGE });
      expect(fn.environment[ENV.defaultModel]).toEqual({ kind: 'literal', value: config.llm.defaultModel });
      for (const table of Object.keys(definition.tables ?? {}) as TableName[]) {
        expect(fn.environment[TABLES[table].envVar]?.kind, `${id} ${table}`).toBe('table');
      }
      for (const queue of Object.keys(definition.queues ?? {}) as QueueName[]) {
        expect(fn.environment[QUEUES[queue].envVar]?.kind, `${id} ${queue}`).toBe('queueUrl');
      }
      expect(fn.environment[ENV.adminKeySecretArn]?.kind).toBe(definition.adminKey ? 'secretArn' : undefined);
      expect(fn.environment[ENV.wsManagementEndpoint]?.kind).toBe(
        definition.wsManagement ? 'wsManagementEndpoint' : undefined,
      );
      if (definition.adminKey) {
        const secret = fn.environment[ENV.adminKeySecretArn];
        expect(secret?.kind === 'secretArn' && secret.secret).toBeTruthy();
      }
    }
  });

  it('models every HTTP route with its function and authorizer', () => {
    expect(model.httpApi.routes.map((route) => route.routeKey).sort()).toEqual(
      HTTP_ROUTES.map(routeKeyOf).sort(),
    );
    for (const row of HTTP_ROUTES) {
      const route = model.httpApi.routes.find((candidate) => candidate.routeKey === routeKeyOf(row))!;
      expect(route.functionId).toBe(row.function);
      if (row.auth === 'none') {
        expect(route.authorizer).toBeUndefined();
        continue;
      }
      expect(route.authorizer).toEqual({
        functionId: 'authorizer-http',
        payloadFormatVersion: '2.0',
        simpleResponses: true,
        identitySource: ['$request.header.Authorization'],
        resultTtlSeconds: config.authorizerCacheTtlSeconds,
      });
    }
    expect(model.httpApi.cors?.allowOrigins).toEqual(config.corsOrigins);
  });

  it('models every WebSocket route, the selection expression and the $connect authorizer', () => {
    expect(model.webSocketApi.routeSelectionExpression).toBe(WS_ROUTE_SELECTION_EXPRESSION);
    expect(model.webSocketApi.routes.map((route) => route.routeKey).sort()).toEqual(
      WS_ROUTES.map((route) => route.routeKey).sort(),
    );
    for (const row of WS_ROUTES) {
      const route = model.webSocketApi.routes.find((candidate) => candidate.routeKey === row.routeKey)!;
      expect(route.functionId).toBe(row.function);
      if (row.routeKey === '$connect') {
        expect(route.authorizer).toMatchObject({ functionId: 'authorizer-ws', payloadFormatVersion: '1.0' });
        expect(route.authorizer?.identitySource).toEqual([]);
      } else {
        expect(route.authorizer).toBeUndefined();
      }
    }
  });

  it('models each queue consumer with the manifest batch settings and partial-batch failures', () => {
    expect(model.eventSources).toHaveLength(Object.keys(QUEUES).length);
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const consumer = catalogue.find(([, definition]) => definition.queues?.[name] === 'consume')![0];
      expect(model.eventSources).toContainEqual({
        functionId: consumer,
        queue: queueFor(name).name,
        batchSize: QUEUES[name].batchSize,
        maxBatchingWindowSeconds: QUEUES[name].maxBatchingWindowSeconds,
        reportBatchItemFailures: true,
      });
    }
  });
});

describe('synthesizeModel (the platform synthesizes in a worker thread)', () => {
  it('hands back the model the synthesis in this thread builds, whole', async () => {
    expect(await synthesizeModel(STAGE)).toEqual(model);
  });

  it('rejects with the synthesis error, its name and message intact', async () => {
    let inThread: unknown;
    try {
      await loadLocalModel({ stage: 'Not A Stage!' });
    } catch (error) {
      inThread = error;
    }
    expect(inThread).toBeInstanceOf(Error);
    const { name, message } = inThread as Error;
    await expect(synthesizeModel('Not A Stage!')).rejects.toMatchObject({ name, message });
  });
});
