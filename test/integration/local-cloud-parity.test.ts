// Integration: local/cloud parity. The real stage is synthesized, the local platform is derived from its
// templates and provisioned into the emulators, and what the emulators then hold is compared with the raw
// CloudFormation properties (not with the model, which is only the go-between). A construct change that the
// local platform would miss fails here.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ENV, PROVIDER_KEY_SECRET_ARN_VAR, providerEnv } from '../../functions/platform/env';
import { FUNCTIONS, type FunctionDefinition } from '../../functions/platform/functions';
import { createEmulatorClients, type EmulatorClients } from '../../local/clients';
import { resolveFunctionEnv } from '../../local/function-env';
import type { LocalPlatformModel } from '../../local/model';
import { describeProvisioned, type ProvisionedDescription, provision } from '../../local/provision';
import { modelFromTemplates } from '../../local/template-model';
import {
  configDirWith,
  type Json,
  resourcesOfType,
  type SynthesizedStage,
  synthStage,
} from '../helpers/cdk-synth';

const STAGE = 'parity';

let stage: SynthesizedStage;
let model: LocalPlatformModel;
let held: ProvisionedDescription;
let clients: EmulatorClients;
let resources: Awaited<ReturnType<typeof provision>>;

const allResources = (type: string): [string, Json][] =>
  Object.values(stage.templates).flatMap((template) => resourcesOfType(template, type));

const byName = <T extends { AttributeName: string }>(items: readonly T[] | undefined): T[] =>
  [...(items ?? [])].sort((a, b) => a.AttributeName.localeCompare(b.AttributeName));

beforeAll(async () => {
  // CORS origins set, so the bucket's CORS rules are part of what must match.
  // Two LLM providers, so each provider's key secret must find its local stand-in.
  stage = synthStage(
    STAGE,
    configDirWith(STAGE, {
      corsOrigins: ['https://app.parity.example', 'http://localhost:5173'],
      llm: {
        defaultModel: 'gpt-4o-mini',
        providers: {
          openai: { models: { 'gpt-4o-mini': {} } },
          local: { baseUrl: 'http://127.0.0.1:11434/v1', models: { 'llama3.2': {} } },
        },
      },
    }),
  );
  model = modelFromTemplates(stage.templates, STAGE);
  const endpoints = inject('emulators');
  clients = createEmulatorClients(endpoints);
  resources = await provision(model, clients, endpoints.sqs);
  held = await describeProvisioned(model, clients, endpoints.sqs);
}, 180_000);

afterAll(() => {
  clients?.destroy();
  stage?.dispose();
});

describe('local platform holds what the CloudFormation templates declare', () => {
  it('has every DynamoDB table with the template keys, attribute types, GSIs and TTL', () => {
    const tables = allResources('AWS::DynamoDB::Table');
    expect(tables.length).toBeGreaterThan(0);
    for (const [logicalId, table] of tables) {
      const local = held.tables.find((candidate) => candidate.name === resources.tables.get(logicalId));
      expect(local, logicalId).toBeDefined();
      expect(local?.keySchema).toEqual(table.Properties.KeySchema);
      expect(byName(local?.attributeDefinitions)).toEqual(byName(table.Properties.AttributeDefinitions));
      const gsis = (table.Properties.GlobalSecondaryIndexes ?? []) as Json[];
      expect(local?.globalSecondaryIndexes.map((index) => index.IndexName).sort()).toEqual(
        gsis.map((index) => index.IndexName).sort(),
      );
      for (const gsi of gsis) {
        const localIndex = local?.globalSecondaryIndexes.find((index) => index.IndexName === gsi.IndexName);
        expect(localIndex?.KeySchema).toEqual(gsi.KeySchema);
        expect(localIndex?.Projection.ProjectionType).toBe(gsi.Projection.ProjectionType);
      }
      const ttl = table.Properties.TimeToLiveSpecification;
      expect(local?.ttlAttribute).toBe(ttl?.Enabled ? ttl.AttributeName : undefined);
    }
  });

  it('has every SQS queue with the template visibility timeout, retention and redrive to its DLQ', () => {
    const queues = allResources('AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThan(0);
    for (const [logicalId, queue] of queues) {
      const name = resources.queues.get(logicalId)?.name;
      const local = held.queues.find((candidate) => candidate.name === name);
      expect(local, logicalId).toBeDefined();
      expect(local?.visibilityTimeoutSeconds).toBe(queue.Properties.VisibilityTimeout ?? 30);
      expect(local?.messageRetentionSeconds).toBe(queue.Properties.MessageRetentionPeriod ?? 345_600);
      const redrive = queue.Properties.RedrivePolicy;
      if (!redrive) {
        expect(local?.redrive, logicalId).toBeUndefined();
        continue;
      }
      const dlqLogicalId = redrive.deadLetterTargetArn['Fn::GetAtt'][0] as string;
      expect(local?.redrive).toEqual({
        deadLetterQueue: resources.queues.get(dlqLogicalId)?.name,
        maxReceiveCount: redrive.maxReceiveCount,
      });
    }
  });

  it('has every bucket the functions use with the template CORS rules', () => {
    for (const bucket of model.buckets) {
      const [, declared] = allResources('AWS::S3::Bucket').find(
        ([logicalId]) => logicalId === bucket.logicalId,
      )!;
      const local = held.buckets.find((candidate) => candidate.name === bucket.name);
      const rules = (declared.Properties.CorsConfiguration?.CorsRules ?? []) as Json[];
      expect(rules.length, bucket.logicalId).toBeGreaterThan(0);
      expect(local, bucket.logicalId).toBeDefined();
      expect(local?.cors.map((rule) => [...rule.allowedOrigins].sort())).toEqual(
        rules.map((rule) => [...rule.AllowedOrigins].sort()),
      );
      expect(local?.cors.map((rule) => [...rule.allowedMethods].sort())).toEqual(
        rules.map((rule) => [...rule.AllowedMethods].sort()),
      );
    }
  });

  it('routes every HTTP and WebSocket route key of the templates to the function the template integrates', () => {
    const routeKeys = allResources('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey);
    const localKeys = [...model.httpApi.routes, ...model.webSocketApi.routes].map((route) => route.routeKey);
    expect(localKeys.sort()).toEqual(routeKeys.sort());
  });

  it('gives every function exactly the variable names the template sets, resolved to local resources', () => {
    for (const [, declared] of allResources('AWS::Lambda::Function')) {
      const meta = declared.Metadata?.['Tenantic:Function'];
      if (!meta) continue;
      const fn = model.functions.find((candidate) => candidate.id === meta.id)!;
      const env = resolveFunctionEnv(fn, {
        stage: STAGE,
        resources,
        adminKey: 'parity-admin-key',
        wsManagementEndpoint: 'http://127.0.0.1:1',
        emulatorEnv: {},
      });
      for (const [name, value] of Object.entries(declared.Properties.Environment?.Variables ?? {})) {
        if (name === ENV.adminKeySecretArn) {
          // Locally there is no Secrets Manager: the key itself is handed over instead of its ARN.
          expect(env[ENV.adminApiKey], `${meta.id}: ${ENV.adminApiKey}`).toBeTruthy();
          continue;
        }
        if (PROVIDER_KEY_SECRET_ARN_VAR.test(name)) {
          // Nor for an LLM provider's key: it comes from the developer's overrides, and the admin key must
          // never stand in for it.
          expect(env[name], `${meta.id}: ${name}`).toBeUndefined();
          expect(env[ENV.llmApiKey], `${meta.id}: ${ENV.llmApiKey}`).toBeUndefined();
          expect(env[name.replace(/_SECRET_ARN$/, '')], `${meta.id}: ${name}`).toBeUndefined();
          continue;
        }
        expect(env, `${meta.id}: ${name}`).toHaveProperty(name);
        // Plain values must arrive unchanged; references resolve to a local resource, never to nothing.
        if (typeof value === 'string') expect(env[name], `${meta.id}: ${name}`).toBe(value);
        else expect(env[name], `${meta.id}: ${name}`).toBeTruthy();
      }
      expect(fn.timeoutSeconds).toBe(declared.Properties.Timeout);
      expect(fn.memoryMb).toBe(declared.Properties.MemorySize);
    }
  });

  it("hands the LLM functions the developer's provider keys, and never the admin key in their place", () => {
    const keyVars = (fn: (typeof model.functions)[number]) =>
      Object.keys(fn.environment).filter((name) => PROVIDER_KEY_SECRET_ARN_VAR.test(name));
    const llmFunctions = model.functions.filter((fn) => keyVars(fn).length > 0);
    expect(llmFunctions.map((fn) => fn.id).sort()).toEqual(
      (Object.entries(FUNCTIONS) as [string, FunctionDefinition][])
        .filter(([, definition]) => definition.llm)
        .map(([id]) => id)
        .sort(),
    );
    for (const fn of llmFunctions) {
      expect(keyVars(fn).sort(), fn.id).toEqual(
        [providerEnv('local').apiKeySecretArn, providerEnv('openai').apiKeySecretArn].sort(),
      );
      const env = resolveFunctionEnv(fn, {
        stage: STAGE,
        resources,
        adminKey: 'parity-admin-key',
        wsManagementEndpoint: 'http://127.0.0.1:1',
        emulatorEnv: {},
        overrides: { [ENV.llmApiKey]: 'upstream-key', [providerEnv('local').apiKey]: 'local-key' },
      });
      expect(env[ENV.llmApiKey], fn.id).toBe('upstream-key');
      expect(env[providerEnv('local').apiKey], fn.id).toBe('local-key');
      for (const name of keyVars(fn)) expect(env[name], `${fn.id}: ${name}`).toBeUndefined();
      expect(Object.values(env), fn.id).not.toContain('parity-admin-key');
    }
  });
});
