// Unit: a bundle's bytes attributed to npm packages and families from esbuild's metafile.
import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleBreakdown, familyOf, OWN_CODE, packageOf } from '../../../lib/bundling/breakdown';

const metafile = (inputs: Record<string, number>): Metafile => ({
  inputs: {},
  outputs: {
    'index.mjs': {
      bytes: 0,
      imports: [],
      exports: [],
      inputs: Object.fromEntries(
        Object.entries(inputs).map(([path, bytesInOutput]) => [path, { bytesInOutput }]),
      ),
    },
    'index.mjs.map': { bytes: 999, imports: [], exports: [], inputs: { 'x.ts': { bytesInOutput: 999 } } },
  },
});

describe('packageOf', () => {
  it('names the innermost package, scoped or not, and our own modules apart', () => {
    expect(packageOf('node_modules/zod/v4/core/core.js')).toBe('zod');
    expect(packageOf('../main/node_modules/@aws-sdk/client-s3/dist-es/index.js')).toBe('@aws-sdk/client-s3');
    expect(packageOf('node_modules/@smithy/core/node_modules/@smithy/types/dist-es/a.js')).toBe(
      '@smithy/types',
    );
    expect(packageOf('functions/handlers/chat-api.ts')).toBe(OWN_CODE);
  });
});

describe('bundleBreakdown', () => {
  it('sums bytes per package, largest first, leaving out the source map and empty inputs', () => {
    const shares = bundleBreakdown(
      metafile({
        'node_modules/zod/a.js': 30,
        'node_modules/zod/b.js': 20,
        'functions/x.ts': 10,
        'node_modules/tiny/index.js': 0,
      }),
    );
    expect(shares).toEqual([
      { name: 'zod', bytes: 50 },
      { name: OWN_CODE, bytes: 10 },
    ]);
  });

  it('groups the AWS SDK and Powertools (with the X-Ray SDK) into families', () => {
    const shares = bundleBreakdown(
      metafile({
        'node_modules/@aws-sdk/client-dynamodb/a.js': 5,
        'node_modules/@smithy/core/a.js': 5,
        'node_modules/@aws-lambda-powertools/tracer/a.js': 3,
        'node_modules/aws-xray-sdk-core/a.js': 4,
        'node_modules/openai/a.js': 1,
      }),
      familyOf,
    );
    expect(shares).toEqual([
      { name: 'AWS SDK', bytes: 10 },
      { name: 'Powertools', bytes: 7 },
      { name: 'openai', bytes: 1 },
    ]);
  });
});
