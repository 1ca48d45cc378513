// Infra tests: every feature flag the installed aws-cdk-lib recommends is decided in
// lib/config/feature-flags.ts (an upgrade that adds one fails here until it is), and every stage is built
// with them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app';
import { FEATURE_FLAG_DEPARTURES, FEATURE_FLAGS } from '../../lib/config/feature-flags';

/** The recommendations of the aws-cdk-lib this checkout installed (what `cdk init` would write). */
const recommended = (): Record<string, unknown> => {
  const entry = createRequire(import.meta.url).resolve('aws-cdk-lib');
  const file = path.join(path.dirname(entry), 'recommended-feature-flags.json');
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
};

describe('CDK feature flags', () => {
  it('decides every flag aws-cdk-lib recommends: as recommended, or a departure that says why', () => {
    const flags = recommended();
    expect(Object.keys(flags).length).toBeGreaterThan(50);
    const undecided = Object.keys(flags).filter((flag) => !(flag in FEATURE_FLAGS));
    expect(undecided).toEqual([]);
    for (const [flag, value] of Object.entries(flags)) {
      const departure = FEATURE_FLAG_DEPARTURES[flag];
      expect(FEATURE_FLAGS[flag], flag).toEqual(departure ? departure.value : value);
    }
  });

  it('lists only real departures, each with its reason', () => {
    const flags = recommended();
    for (const [flag, { value, why }] of Object.entries(FEATURE_FLAG_DEPARTURES)) {
      expect(flags[flag], flag).not.toEqual(value);
      expect(why.length, flag).toBeGreaterThan(20);
    }
  });

  it('builds every stage with them, and a context given by the caller still wins', () => {
    const { app } = buildApp({
      stage: 'dev',
      context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/aws-iam:minimizePolicies': false },
    });
    for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
      if (flag === '@aws-cdk/aws-iam:minimizePolicies') continue;
      expect(app.node.tryGetContext(flag), flag).toEqual(value);
    }
    expect(app.node.tryGetContext('@aws-cdk/aws-iam:minimizePolicies')).toBe(false);
  });
});
