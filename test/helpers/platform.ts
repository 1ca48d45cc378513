// Test helper: the real stage (model read from the synthesized CDK template) on the shared emulators, on
// free ports, with a fresh data directory and function logs captured for failure messages.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { inject } from 'vitest';
import type { LocalPlatformModel } from '../../local/model';
import {
  type LocalPlatform,
  loadModel,
  type StartLocalPlatformOptions,
  startLocalPlatform,
} from '../../local/platform';

/** One model cache for every test platform of a run, so the CDK app is synthesized once, not per file. */
const MODEL_CACHE_DIR = join(tmpdir(), 'tenantic-test-model-cache');

/**
 * The stage with its tables, queues and buckets renamed under a prefix of their own. Test files run in
 * parallel on one set of emulators; without this, two platforms would poll the same queue, and a message
 * taken by a platform that then stops stays invisible for the queue's whole visibility timeout.
 * References in the model name resources by logical id, which stays as it is.
 */
const isolated = (model: LocalPlatformModel, prefix: string): LocalPlatformModel => ({
  ...model,
  tables: model.tables.map((table) => ({ ...table, name: `${prefix}-${table.name}` })),
  queues: model.queues.map((queue) => ({ ...queue, name: `${prefix}-${queue.name}` })),
  buckets: model.buckets.map((bucket) => ({ ...bucket, name: `${prefix}-${bucket.name}` })),
});

export interface CallOptions {
  readonly method?: string;
  /** Sent as `Authorization: Bearer <key>`. */
  readonly key?: string;
  /** Sent as JSON. */
  readonly body?: unknown;
}

interface TestTenant {
  // biome-ignore lint/suspicious/noExplicitAny: the tenant resource as the API returned it, for assertions.
  readonly tenant: any;
  readonly key: string;
  readonly openai: OpenAI;
}

interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON response bodies.
  readonly body: any;
}

export interface TestPlatform {
  /** One HTTP call to the platform, its JSON body parsed. */
  call(path: string, init?: CallOptions): Promise<CallResult>;
  /**
   * A tenant (through the admin API) with one API key, and the official openai client on that key.
   * Throws when either call fails.
   */
  createTenant(name: string, body?: Record<string, unknown>): Promise<TestTenant>;
  readonly platform: LocalPlatform;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly adminKey: string;
  /** Function log lines as `[function-id] line`. */
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * @example
 * const platform = await startTestPlatform();
 * await fetch(`${platform.httpUrl}/openapi.json`);
 * await platform.stop();
 */
export const startTestPlatform = async (
  options: Partial<StartLocalPlatformOptions> = {},
): Promise<TestPlatform> => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantic-e2e-'));
  const logs: string[] = [];
  // A caller's own model (another stage config) is isolated the same way.
  const model = options.model ?? (await loadModel('dev', { dataDir: MODEL_CACHE_DIR })).model;
  const platform = await startLocalPlatform({
    stage: 'dev',
    port: 0,
    wsPort: 0,
    dataDir,
    adminKey: `admin-e2e-${randomBytes(16).toString('hex')}`,
    emulators: inject('emulators'),
    log: (functionId, _stream, line) => logs.push(`[${functionId}] ${line}`),
    ...options,
    model: isolated(model, `t${randomBytes(3).toString('hex')}`),
  });
  const call = async (path: string, init: CallOptions = {}): Promise<CallResult> => {
    const response = await fetch(`${platform.httpUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  const createTenant = async (name: string, body: Record<string, unknown> = {}): Promise<TestTenant> => {
    const admin = { method: 'POST', key: platform.adminKey };
    const tenant = await call('/v1/tenants', { ...admin, body: { name, ...body } });
    if (tenant.status !== 201)
      throw new Error(`create tenant ${name}: ${tenant.status} ${JSON.stringify(tenant.body)}`);
    const key = await call(`/v1/tenants/${tenant.body.id}/api-keys`, { ...admin, body: {} });
    if (key.status !== 201)
      throw new Error(`create key for ${name}: ${key.status} ${JSON.stringify(key.body)}`);
    const openai = new OpenAI({ apiKey: key.body.key, baseURL: `${platform.httpUrl}/v1`, maxRetries: 0 });
    return { tenant: tenant.body, key: key.body.key as string, openai };
  };
  return {
    call,
    createTenant,
    platform,
    httpUrl: platform.httpUrl,
    wsUrl: platform.wsUrl,
    adminKey: platform.adminKey,
    logs,
    async stop() {
      await platform.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
