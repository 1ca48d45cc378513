// Unit: model limits come from the stage's catalogue once declared, and from the published table otherwise.
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL_LIMITS,
  declareModelLimits,
  MODEL_LIMITS,
  modelLimits,
} from '../../../functions/core/chat/model-limits';

afterEach(() => declareModelLimits({}));

describe('modelLimits', () => {
  it("answers with the catalogue's limits for its models, over the published ones", () => {
    const stated = { contextTokens: 64_000, maxOutputTokens: 2_000 };
    const local = { contextTokens: 8_192, maxOutputTokens: 1_024 };

    declareModelLimits({
      openai: { models: { 'gpt-4o': stated } },
      local: { models: { 'llama3.2': local } },
    });

    expect(modelLimits('gpt-4o')).toEqual(stated);
    expect(modelLimits('llama3.2')).toEqual(local);
  });

  it('falls back to the published limits, then the conservative default, for models it was not told of', () => {
    declareModelLimits({
      local: { models: { 'llama3.2': { contextTokens: 8_192, maxOutputTokens: 1_024 } } },
    });

    expect(modelLimits('gpt-4o-mini')).toEqual(MODEL_LIMITS['gpt-4o-mini']);
    expect(modelLimits('never-heard-of-it')).toEqual(DEFAULT_MODEL_LIMITS);
  });

  it('forgets an earlier declaration when a new one is made', () => {
    declareModelLimits({
      local: { models: { 'llama3.2': { contextTokens: 8_192, maxOutputTokens: 1_024 } } },
    });
    declareModelLimits({
      openai: { models: { 'gpt-4o': { contextTokens: 64_000, maxOutputTokens: 2_000 } } },
    });

    expect(modelLimits('llama3.2')).toEqual(DEFAULT_MODEL_LIMITS);
  });
});
