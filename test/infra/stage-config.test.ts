// Infra tests: the stage config: defaults for any stage, per-stage files, errors that name the field.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_LIMITS, publishedLimits } from '../../functions/core/chat/model-limits';
import {
  defaultProviderOf,
  defaultStageConfig,
  loadStageConfig,
  StageConfigError,
} from '../../lib/config/stages';
import { configDirWith } from '../helpers/cdk-synth';

const dirs: string[] = [];
const withFile = (stage: string, overrides: Record<string, unknown>) => {
  const dir = configDirWith(stage, overrides);
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StageConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a StageConfigError');
};

describe('loadStageConfig', () => {
  it('accepts any valid stage name with defaults', () => {
    const config = loadStageConfig('acme', { configDir: withFile('other', {}) });
    expect(config).toEqual(defaultStageConfig('acme'));
    expect(config.removalPolicy).toBe('destroy');
  });

  it('retains production stages by default', () => {
    const empty = withFile('unused', {});
    for (const stage of ['prod', 'production']) {
      expect(loadStageConfig(stage, { configDir: empty }).removalPolicy).toBe('retain');
      expect(loadStageConfig(stage, { configDir: empty }).logRetentionDays).toBeGreaterThan(
        loadStageConfig('acme', { configDir: empty }).logRetentionDays,
      );
    }
  });

  it('merges nested settings from the stage file and replaces plans whole', () => {
    const dir = withFile('acme', {
      queues: { maxReceiveCount: 9 },
      alarms: { llmLatencyP99Ms: { 'chat-worker': 90_000 } },
      plans: { solo: defaultStageConfig('x').plans.free },
      defaultPlan: 'solo',
    });
    const config = loadStageConfig('acme', { configDir: dir });
    expect(config.queues.maxReceiveCount).toBe(9);
    expect(config.queues.retentionDays).toBe(defaultStageConfig('acme').queues.retentionDays);
    const defaults = defaultStageConfig('acme').alarms;
    expect(config.alarms).toEqual({
      ...defaults,
      llmLatencyP99Ms: { ...defaults.llmLatencyP99Ms, 'chat-worker': 90_000 },
    });
    expect(Object.keys(config.plans)).toEqual(['solo']);
  });

  it('loads the committed dev and prod files', () => {
    expect(loadStageConfig('dev').corsOrigins.length).toBeGreaterThan(0);
    expect(loadStageConfig('prod').removalPolicy).toBe('retain');
  });

  it.each([
    ['queues.maxReceiveCount', { queues: { maxReceiveCount: 0 } }, 'must be >= 1'],
    ['queues.dlqRetentionDays', { queues: { retentionDays: 7, dlqRetentionDays: 7 } }, 'must exceed'],
    ['logRetentionDays', { logRetentionDays: 10 }, 'CloudWatch'],
    ['removalPolicy', { removalPolicy: 'keep' }, ''],
    ['tenancy', { tenancy: 'shared' }, ''],
    ['defaultPlan', { defaultPlan: 'gold' }, 'must be one of the plans'],
    // `constructor` is `in` every object: plan membership must be an own property.
    ['defaultPlan', { defaultPlan: 'constructor' }, 'must be one of the plans'],
    ['maxBodyBytes', { maxBodyBytes: 6 * 1024 * 1024 }, 'synchronous invoke carries at most 6 MB'],
    ['llm.defaultModel', { llm: { defaultModel: 'nope' } }, 'must be one of the models of llm.providers'],
    ['corsOrigins.0', { corsOrigins: ['app.example.com/'] }, 'origin'],
    ['alarmEmail', { alarmEmail: 'nobody' }, 'email'],
    ['alarms.apiErrorRate', { alarms: { apiErrorRate: 5 } }, 'a fraction, not a percentage'],
    ['alarms.durationP99OfTimeout', { alarms: { durationP99OfTimeout: 0 } }, 'must be > 0'],
    ['alarms.llmMinAnswers', { alarms: { llmMinAnswers: 2.5 } }, 'must be an integer'],
    // A latency threshold for a function that calls no LLM would watch a metric nobody emits.
    ['alarms.llmLatencyP99Ms', { alarms: { llmLatencyP99Ms: { 'tool-worker': 1_000 } } }, 'tool-worker'],
    [
      'plans.free.tokens_per_month',
      { plans: { free: { ...defaultStageConfig('x').plans.free, tokens_per_month: -1 } } },
      '',
    ],
    ['tenant', { tenant: 'acme-corp' }, 'single'],
    ['authorizerCacheTtlSeconds', { authorizerCacheTtlSeconds: 7200 }, 'must be <= 3600'],
    ['apiGatewayAccountLogsRole', { apiGatewayAccountLogsRole: 'yes' }, 'boolean'],
    ['(root)', { surprise: true }, 'surprise'],
  ])('names %s', (path, overrides, detail) => {
    const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', overrides) }));
    expect(message).toContain(`stage 'acme': ${path}: `);
    expect(message).toContain(detail);
  });

  const provider = (models: Record<string, unknown> = { 'gpt-4o-mini': {} }, extra: object = {}) => ({
    models,
    ...extra,
  });

  it.each([
    [
      'llm.providers.openai.baseUrl',
      { openai: provider(undefined, { baseUrl: 'not a url' }) },
      'must be a URL',
    ],
    [
      'llm.providers.openai.baseUrl',
      { openai: provider(undefined, { baseUrl: 'http://llm.internal.example/v1' }) },
      'must be https',
    ],
    [
      'llm.providers.openai.baseUrl',
      { openai: provider(undefined, { baseUrl: 'https://user:pass@llm.example/v1' }) },
      'without credentials',
    ],
    ['llm.providers.openai.models', { openai: provider({}) }, 'at least one model'],
    ['llm.providers', {}, 'at least one provider'],
    ['llm.providers.Open_AI', { Open_AI: provider() }, 'must match'],
    ['llm.providers.rule-based', { 'rule-based': provider() }, "'rule-based' is the built-in fallback"],
    [
      'llm.providers.azure.models.gpt-4o-mini',
      { openai: provider(), azure: provider() },
      "is also served by provider 'openai'",
    ],
    ['llm.providers.a1', { 'a-1': provider(), a1: provider({ other: {} }) }, "reads as 'a-1'"],
    [
      'llm.providers.openai.models.gpt-4o-mini.maxOutputTokens',
      { openai: provider({ 'gpt-4o-mini': { contextTokens: 1_000, maxOutputTokens: 2_000 } }) },
      'must not exceed contextTokens',
    ],
    [
      'llm.providers.openai.models.my-llama.maxOutputTokens',
      // Only the context is stated: the default output limit (4096) is larger than it.
      { openai: provider({ 'gpt-4o-mini': {}, 'my-llama': { contextTokens: 2_048 } }) },
      'must not exceed contextTokens (2048)',
    ],
    [
      'llm.providers.openai.models.gpt-4o-mini.contextTokens',
      { openai: provider({ 'gpt-4o-mini': { contextTokens: 0 } }) },
      'must be > 0',
    ],
    ['llm.providers.openai.models.gpt 4o', { openai: provider({ 'gpt 4o': {} }) }, 'whitespace'],
  ])('names %s in a bad provider catalogue', (path, providers, detail) => {
    const llm = { defaultModel: 'gpt-4o-mini', providers };
    const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { llm }) }));
    expect(message).toContain(`stage 'acme': ${path}: `);
    expect(message).toContain(detail);
  });

  const withFallbacks = (fallbacks: unknown) => ({
    openai: provider({ 'gpt-4o': { fallbacks }, 'gpt-4o-mini': {} }),
    mistral: provider({ 'mistral-small-latest': {} }),
  });

  it.each([
    ['0', ['gpt-5'], "'gpt-5' is not a model of any provider (gpt-4o, gpt-4o-mini, mistral-small-latest)"],
    ['1', ['gpt-4o-mini', 'gpt-4o'], 'is the model itself'],
    ['2', ['gpt-4o-mini', 'mistral-small-latest', 'gpt-4o-mini'], "repeats 'gpt-4o-mini'"],
    ['0', ['rule-based'], "'rule-based' always ends the chain by itself"],
    ['0', [''], 'must not be empty'],
  ])(
    'names llm.providers.openai.models.gpt-4o.fallbacks.%s in bad fallbacks %j',
    (index, fallbacks, detail) => {
      const llm = { defaultModel: 'gpt-4o-mini', providers: withFallbacks(fallbacks) };
      const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { llm }) }));
      expect(message).toContain(
        `stage 'acme': llm.providers.openai.models.gpt-4o.fallbacks.${index}: ${detail}`,
      );
    },
  );

  it('refuses fallbacks that are not a list of model ids', () => {
    const llm = { defaultModel: 'gpt-4o-mini', providers: withFallbacks('gpt-4o-mini') };
    const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { llm }) }));
    expect(message).toContain("stage 'acme': llm.providers.openai.models.gpt-4o.fallbacks: ");
  });

  it('keeps fallbacks in order, across providers, and leaves an empty list out of the catalogue', () => {
    const llm = {
      defaultModel: 'gpt-4o-mini',
      providers: {
        openai: provider({
          'gpt-4o': { fallbacks: ['mistral-small-latest', 'gpt-4o-mini'] },
          'gpt-4o-mini': {},
        }),
        mistral: provider({ 'mistral-small-latest': { fallbacks: [] } }),
      },
    };
    const config = loadStageConfig('acme', { configDir: withFile('acme', { llm }) });
    expect(config.llm.providers.openai?.models['gpt-4o']).toEqual({
      ...publishedLimits('gpt-4o'),
      fallbacks: ['mistral-small-latest', 'gpt-4o-mini'],
    });
    expect(config.llm.providers.mistral?.models['mistral-small-latest']).toEqual(
      publishedLimits('mistral-small-latest'),
    );
  });

  it('counts the fallbacks in the catalogue size the Lambda environment must hold', () => {
    const models = Object.fromEntries(Array.from({ length: 12 }, (_, index) => [`model-${index}`, {}]));
    const small = { defaultModel: 'model-0', providers: { big: { models } } };
    const fallbacks = Object.keys(models);
    const withAll = Object.fromEntries(
      fallbacks.map((model) => [model, { fallbacks: fallbacks.filter((other) => other !== model) }]),
    );
    const large = { defaultModel: 'model-0', providers: { big: { models: withAll } } };

    const accepted = loadStageConfig('acme', { configDir: withFile('acme', { llm: small }) });
    const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { llm: large }) }));

    expect(Object.keys(accepted.llm.providers.big?.models ?? {})).toHaveLength(12);
    expect(message).toContain("stage 'acme': llm.providers: ");
    expect(message).toContain('4 KB of environment');
  });

  it.each([
    ['llm.models', { models: ['gpt-4o-mini'] }],
    ['llm.baseUrl', { baseUrl: 'https://api.openai.com/v1' }],
  ])('says where the single-provider field %s went', (path, llm) => {
    const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { llm }) }));
    expect(message).toContain(`stage 'acme': ${path}: moved: declare each upstream under llm.providers`);
  });

  it('refuses a catalogue too large for the Lambda environment, naming the limit', () => {
    const models = Object.fromEntries(
      Array.from({ length: 60 }, (_, index) => [`a-rather-long-model-name-${index}`, {}]),
    );
    const llm = { defaultModel: 'a-rather-long-model-name-0', providers: { big: { models } } };
    const message = errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { llm }) }));
    expect(message).toContain("stage 'acme': llm.providers: ");
    expect(message).toContain('4 KB of environment');
  });

  it("replaces the default providers with the file's, filling in published limits, keeping stated ones", () => {
    const llm = {
      defaultModel: 'mistral-small-latest',
      providers: {
        mistral: {
          baseUrl: 'https://api.mistral.ai/v1',
          models: { 'mistral-small-latest': { contextTokens: 32_000, maxOutputTokens: 8_192 } },
        },
        local: { baseUrl: 'http://127.0.0.1:11434/v1', models: { 'gpt-4.1-mini': {}, 'llama3.2': {} } },
      },
    };
    const config = loadStageConfig('acme', { configDir: withFile('acme', { llm }) });
    expect(Object.keys(config.llm.providers).sort()).toEqual(['local', 'mistral']);
    expect(config.llm.providers.mistral?.models['mistral-small-latest']).toEqual({
      contextTokens: 32_000,
      maxOutputTokens: 8_192,
    });
    expect(config.llm.providers.local?.models['gpt-4.1-mini']).toEqual(publishedLimits('gpt-4.1-mini'));
    expect(config.llm.providers.local?.models['llama3.2']).toEqual(DEFAULT_MODEL_LIMITS);
    expect(defaultProviderOf(config)).toBe('mistral');
  });

  it('accepts a body limit of exactly 5 MiB, the most a synchronous invoke leaves room for', () => {
    const dir = withFile('acme', { maxBodyBytes: 5 * 1024 * 1024 });
    expect(loadStageConfig('acme', { configDir: dir }).maxBodyBytes).toBe(5 * 1024 * 1024);
  });

  it('samples a share of debug logs and ages secrets as the stage says, refusing a rate outside 0..1', () => {
    const dir = withFile('acme', { logSampleRate: 0.5, secretsMaxAgeSeconds: 60 });
    expect(loadStageConfig('acme', { configDir: dir })).toMatchObject({
      logSampleRate: 0.5,
      secretsMaxAgeSeconds: 60,
    });
    expect(
      errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { logSampleRate: 2 }) })),
    ).toContain('logSampleRate');
  });

  it('rejects a stage name the stacks could not carry', () => {
    expect(errorOf(() => loadStageConfig('Acme_1'))).toContain("stage 'Acme_1': stage: ");
  });

  it('rejects a file that names another stage', () => {
    expect(
      errorOf(() => loadStageConfig('acme', { configDir: withFile('acme', { stage: 'beta' }) })),
    ).toContain("stage 'acme': stage: ");
  });
});
