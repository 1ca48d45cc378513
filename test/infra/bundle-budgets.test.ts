// Infra: every function's bundle, built exactly as the cloud builds it (lib/bundling), carries only what
// the function uses and stays within its size budget. Bundles are deterministic, so sizes can be asserted.
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../../functions/platform/functions';
import { bundleBreakdown, bundledInputs, familyOf, POWERTOOLS } from '../../lib/bundling/breakdown';
import { CEILING_BYTES, POWERTOOLS_CEILING_BYTES } from '../../lib/bundling/budgets';
import { bundleFunction } from '../../lib/bundling/bundle';

const catalogue = Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][];

interface Built {
  readonly bytes: number;
  readonly metafile: Metafile;
  readonly packages: Set<string>;
}
const built = new Map<FunctionId, Built>();

beforeAll(async () => {
  // One at a time: the machine is shared, and esbuild is fast enough (~0.3 s a bundle).
  for (const [id, definition] of catalogue) {
    const { code, metafile } = await bundleFunction(definition.entry);
    const packages = new Set(bundleBreakdown(metafile).map((share) => share.name));
    built.set(id, { bytes: code.byteLength, metafile, packages });
  }
}, 120_000);

const bundleOf = (id: FunctionId): Built => {
  const bundle = built.get(id);
  if (!bundle) throw new Error(`${id} was not bundled`);
  return bundle;
};

/** Each SDK client package, and the catalogue grant without which a function has no use for it. */
const CLIENT_GRANTS: Record<string, (definition: FunctionDefinition) => boolean> = {
  '@aws-sdk/client-dynamodb': (d) => Object.keys(d.tables ?? {}).length > 0,
  '@aws-sdk/client-s3': (d) => d.bucket !== undefined,
  '@aws-sdk/client-sqs': (d) => Object.keys(d.queues ?? {}).length > 0,
  '@aws-sdk/client-apigatewaymanagementapi': (d) => d.wsManagement === true,
  '@aws-sdk/client-secrets-manager': (d) => d.adminKey === true || d.llm === true,
};

describe('bundles', () => {
  it.each(catalogue)('%s: openai only if its catalogue entry calls an LLM', (id, definition) => {
    // Both ways: the LLM functions' bundles show that the check sees openai where it is.
    expect(bundleOf(id).packages.has('openai')).toBe(definition.llm === true);
  });

  it.each(catalogue)('%s: no zod locale but English', (id) => {
    const locales = bundledInputs(bundleOf(id).metafile).filter((input) => /zod\/v4\/locales\//.test(input));
    expect(locales.filter((input) => !input.endsWith('/zod/v4/locales/en.js'))).toEqual([]);
  });

  it.each(catalogue)('%s: only the AWS SDK clients its catalogue entry grants', (id, definition) => {
    const clients = [...bundleOf(id).packages].filter((name) => /^@aws-sdk\/client-/.test(name));
    const known = Object.keys(CLIENT_GRANTS);
    expect(
      clients.filter((name) => !known.includes(name)),
      'a client without a rule here',
    ).toEqual([]);
    expect(clients.filter((name) => !CLIENT_GRANTS[name]?.(definition))).toEqual([]);
  });

  it.each(catalogue)('%s: the X-Ray SDK only if it calls an AWS service it can trace', (id) => {
    const packages = bundleOf(id).packages;
    const callsAws = [...packages].some((name) => /^@aws-sdk\/client-/.test(name));
    expect(packages.has('aws-xray-sdk-core')).toBe(callsAws);
  });

  it.each(catalogue)('%s: within its size budget (lib/bundling/budgets.ts)', (id) => {
    const bundle = bundleOf(id);
    const powertools = bundleBreakdown(bundle.metafile, familyOf).find((share) => share.name === POWERTOOLS);
    expect(bundle.bytes, 'the whole bundle').toBeLessThanOrEqual(CEILING_BYTES[id]);
    expect(powertools?.bytes ?? 0, 'Powertools').toBeLessThanOrEqual(POWERTOOLS_CEILING_BYTES);
  });
});
