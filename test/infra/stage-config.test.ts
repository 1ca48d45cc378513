// Infra tests: the stage config: defaults for any stage, per-stage files, errors that name the field.

import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStageConfig, loadStageConfig, StageConfigError } from '../../lib/config/stages';
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
      plans: { solo: defaultStageConfig('x').plans.free },
      defaultPlan: 'solo',
    });
    const config = loadStageConfig('acme', { configDir: dir });
    expect(config.queues.maxReceiveCount).toBe(9);
    expect(config.queues.retentionDays).toBe(defaultStageConfig('acme').queues.retentionDays);
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
    ['llm.defaultModel', { llm: { defaultModel: 'nope' } }, 'llm.models'],
    ['llm.baseUrl', { llm: { baseUrl: 'not a url' } }, 'URL'],
    ['corsOrigins.0', { corsOrigins: ['app.example.com/'] }, 'origin'],
    ['alarmEmail', { alarmEmail: 'nobody' }, 'email'],
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

  it('accepts a body limit of exactly 5 MiB, the most a synchronous invoke leaves room for', () => {
    const dir = withFile('acme', { maxBodyBytes: 5 * 1024 * 1024 });
    expect(loadStageConfig('acme', { configDir: dir }).maxBodyBytes).toBe(5 * 1024 * 1024);
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
