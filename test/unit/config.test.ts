// Unit: the runtime config parsed at cold start: a default plan the plans define, and the LLM provider
// catalogue (its default provider, and a local default model outside it).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../functions/config';
import { TEST_ENV } from '../helpers/test-env';

describe('loadConfig', () => {
  it('accepts a default plan that is one of the plans', () => {
    expect(loadConfig({ ...TEST_ENV, TENANTIC_DEFAULT_PLAN: 'free' }).defaultPlan).toBe('free');
  });

  it.each(['gold', 'constructor'])('refuses the default plan %s, naming the variable', (plan) => {
    // `constructor` is `in` every object, so membership must be an own-property check.
    const load = () => loadConfig({ ...TEST_ENV, TENANTIC_DEFAULT_PLAN: plan });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/TENANTIC_DEFAULT_PLAN: plan '.+' is not in TENANTIC_PLANS/);
  });
});

const catalogue = (providers: unknown) => JSON.stringify(providers);
const LIMITS = { contextTokens: 32_000, maxOutputTokens: 4_000 };

describe('loadConfig: the LLM provider catalogue', () => {
  it('reads the providers, and offers every model of every provider as the stage models', () => {
    const config = loadConfig({
      ...TEST_ENV,
      TENANTIC_LLM_PROVIDERS: catalogue({
        openai: { models: { 'gpt-4o-mini': LIMITS } },
        mistral: { baseUrl: 'https://api.mistral.ai/v1', models: { 'mistral-small': LIMITS } },
      }),
      TENANTIC_DEFAULT_PROVIDER: 'mistral',
      TENANTIC_DEFAULT_MODEL: 'mistral-small',
    });

    expect(config.defaultModels).toEqual(['gpt-4o-mini', 'mistral-small']);
    expect(config.llm.defaultProvider).toBe('mistral');
    expect(config.llm.providers.mistral?.baseUrl).toBe('https://api.mistral.ai/v1');
  });

  it("reads each model's fallbacks, across providers, in order", () => {
    const config = loadConfig({
      ...TEST_ENV,
      TENANTIC_LLM_PROVIDERS: catalogue({
        openai: {
          models: { 'gpt-4o-mini': { ...LIMITS, fallbacks: ['mistral-small', 'gpt-4o'] }, 'gpt-4o': LIMITS },
        },
        mistral: { models: { 'mistral-small': LIMITS } },
      }),
    });

    expect(config.llm.providers.openai?.models['gpt-4o-mini']?.fallbacks).toEqual([
      'mistral-small',
      'gpt-4o',
    ]);
    expect(config.llm.providers.openai?.models['gpt-4o']?.fallbacks).toBeUndefined();
  });

  it('adds a default model outside the catalogue (a local override) to the default provider', () => {
    const config = loadConfig({ ...TEST_ENV, TENANTIC_DEFAULT_MODEL: 'qwen2.5' });

    expect(config.defaultModel).toBe('qwen2.5');
    expect(Object.keys(config.llm.providers.openai?.models ?? {})).toContain('qwen2.5');
    expect(config.defaultModels).toContain('qwen2.5');
  });

  it.each([
    [
      { ...TEST_ENV, TENANTIC_DEFAULT_PROVIDER: 'azure' },
      /TENANTIC_DEFAULT_PROVIDER: provider 'azure' is not in/,
    ],
    [{ ...TEST_ENV, TENANTIC_LLM_PROVIDERS: '{not json' }, /TENANTIC_LLM_PROVIDERS: is not valid JSON/],
    [
      { ...TEST_ENV, TENANTIC_LLM_PROVIDERS: catalogue({}) },
      /TENANTIC_LLM_PROVIDERS: must declare at least one/,
    ],
    [
      {
        ...TEST_ENV,
        TENANTIC_LLM_PROVIDERS: catalogue({ openai: { models: { m: { contextTokens: 10 } } } }),
      },
      /TENANTIC_LLM_PROVIDERS\.openai\.models\.m\.maxOutputTokens/,
    ],
    [
      {
        ...TEST_ENV,
        TENANTIC_LLM_PROVIDERS: catalogue({ a: { models: { m: LIMITS } }, b: { models: { m: LIMITS } } }),
        TENANTIC_DEFAULT_PROVIDER: 'a',
      },
      /TENANTIC_LLM_PROVIDERS\.b\.models\.m: is also served by provider 'a'/,
    ],
    [
      {
        ...TEST_ENV,
        TENANTIC_LLM_PROVIDERS: catalogue({
          openai: { models: { 'gpt-4o-mini': { ...LIMITS, fallbacks: ['gpt-4o', 'gpt-4o-mini'] } } },
        }),
      },
      /TENANTIC_LLM_PROVIDERS\.openai\.models\.gpt-4o-mini\.fallbacks\.0: 'gpt-4o' is not a model of any provider.*fallbacks\.1: is the model itself/,
    ],
  ])('refuses a bad catalogue, naming the variable (%#)', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
