// Unit: the runtime config parsed at cold start refuses a default plan the plans do not define.
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
