// Unit: the model cache returns the synthesized model verbatim on a hit, misses when any hashed input
// changes (a file the CDK app imports from outside the listed folders included), and --fresh bypasses it.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LocalPlatformModel } from '../../local/model';
import {
  importClosure,
  isModelCacheFileName,
  loadCachedModel,
  MODEL_INPUT_ROOTS,
  modelCacheFile,
  modelCacheKey,
  modelInputFiles,
} from '../../local/model-cache';
import { REPO_ROOT } from '../../local/platform';
import { buildFixtureModel } from '../helpers/fixture-model';

const write = (root: string, file: string, content: string): void => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), content);
};

/** A tiny repository: the app imports the manifest and, like lib/config/stages.ts, a module in functions/core. */
const makeRepo = (): string => {
  const root = mkdtempSync(join(tmpdir(), 'tenantic-model-cache-'));
  write(root, 'local/template-model.ts', "import { buildApp } from '../lib/app';\nexport { buildApp };\n");
  write(root, 'local/model.ts', 'export interface LocalPlatformModel {}\n');
  write(
    root,
    'lib/app.ts',
    "import { PLANS } from '../functions/core/quotas/schemas';\nexport const buildApp = PLANS;\n",
  );
  write(root, 'functions/core/quotas/schemas.ts', "export const PLANS = ['free'];\n");
  write(root, 'functions/core/unrelated.ts', 'export const notPartOfTheApp = 1;\n');
  write(root, 'functions/platform/tables.ts', "export const TABLES = ['tenants'];\n");
  write(root, 'config/stages/dev.json', '{ "logRetentionDays": 7 }\n');
  write(root, 'package-lock.json', '{ "lockfileVersion": 3 }\n');
  return root;
};

describe('model cache', () => {
  let root: string;
  let dataDir: string;
  let synths: number;
  let model: LocalPlatformModel;
  const env = {};
  const synthesize = async (): Promise<LocalPlatformModel> => {
    synths += 1;
    return model;
  };
  const load = (options: { fresh?: boolean; stage?: string } = {}) =>
    loadCachedModel({
      stage: options.stage ?? 'dev',
      dataDir,
      rootDir: root,
      env,
      load: synthesize,
      ...options,
    });

  beforeEach(() => {
    root = makeRepo();
    dataDir = join(root, '.tenantic');
    synths = 0;
    model = buildFixtureModel();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('returns, on a hit, the very model the synth produced, without synthesizing again', async () => {
    const first = await load();

    const second = await load();

    expect(first.source).toBe('synthesized');
    expect(second.source).toBe('cache');
    expect(synths).toBe(1);
    expect(second.model).toStrictEqual(first.model);
    expect(second.file).toBe(join(dataDir, 'model-dev.json'));
  });

  it.each([
    ['a CDK app module', 'lib/app.ts'],
    ['a manifest module', 'functions/platform/tables.ts'],
    ['a module the app imports from functions/core', 'functions/core/quotas/schemas.ts'],
    ['the stage config', 'config/stages/dev.json'],
    ['the lock file', 'package-lock.json'],
    ['the model reader', 'local/template-model.ts'],
  ])('misses when %s changes, and then caches the new synth', async (_what, file) => {
    await load();
    write(root, file, `${readFileSync(join(root, file), 'utf8')}\n// changed\n`);

    const afterChange = await load();
    const again = await load();

    expect(afterChange.source).toBe('synthesized');
    expect(again.source).toBe('cache');
    expect(synths).toBe(2);
  });

  it('hits when only a file outside the inputs changes', async () => {
    await load();
    write(root, 'functions/core/unrelated.ts', 'export const notPartOfTheApp = 2;\n');

    const second = await load();

    expect(second.source).toBe('cache');
  });

  it('keys each stage apart', async () => {
    await load({ stage: 'dev' });

    const other = await load({ stage: 'acme' });

    expect(other.source).toBe('synthesized');
    expect(other.file).toBe(join(dataDir, 'model-acme.json'));
  });

  it('misses when the CDK context in the environment changes', async () => {
    await loadCachedModel({ stage: 'dev', dataDir, rootDir: root, env: {}, load: synthesize });

    const withContext = await loadCachedModel({
      stage: 'dev',
      dataDir,
      rootDir: root,
      env: { CDK_CONTEXT_JSON: '{"stage":"dev","x":1}' },
      load: synthesize,
    });

    expect(withContext.source).toBe('synthesized');
  });

  it('misses when the injected file list names a changed file', async () => {
    const files = ['functions/core/unrelated.ts'];
    await loadCachedModel({ stage: 'dev', dataDir, rootDir: root, env, files, load: synthesize });
    write(root, 'functions/core/unrelated.ts', 'export const notPartOfTheApp = 3;\n');

    const second = await loadCachedModel({
      stage: 'dev',
      dataDir,
      rootDir: root,
      env,
      files,
      load: synthesize,
    });

    expect(second.source).toBe('synthesized');
  });

  it('synthesizes with fresh even when the cache matches, and rewrites the cache', async () => {
    await load();
    const before = readFileSync(join(dataDir, 'model-dev.json'), 'utf8');
    model = buildFixtureModel();

    const fresh = await load({ fresh: true });
    const next = await load();

    expect(fresh.source).toBe('synthesized');
    expect(synths).toBe(2);
    expect(readFileSync(join(dataDir, 'model-dev.json'), 'utf8')).not.toBe(before);
    expect(next.source).toBe('cache');
    expect(next.model).toStrictEqual(model);
  });

  it('treats a corrupt cache file as a miss', async () => {
    await load();
    writeFileSync(join(dataDir, 'model-dev.json'), '{ "format": 1, "key": ');

    const second = await load();

    expect(second.source).toBe('synthesized');
  });

  it('never names a file after a stage that could escape the data dir', () => {
    expect(modelCacheFile(dataDir, '../x')).toBeUndefined();
    expect(modelCacheFile(dataDir, 'dev')).toBe(join(dataDir, 'model-dev.json'));
  });

  it('follows relative imports from the roots, through the app, to functions/', () => {
    const closure = importClosure(root, ['local/template-model.ts']);

    expect(closure.sort()).toEqual([
      'functions/core/quotas/schemas.ts',
      'lib/app.ts',
      'local/template-model.ts',
    ]);
  });
});

describe('model cache inputs of this repository', () => {
  it('hash every repository file that esbuild bundles into the model reader and the CDK entry', async () => {
    // esbuild resolves imports independently of the cache's own scanner: any module lib/ (or bin/, or the
    // model reader) imports from outside the hashed set fails this test.
    const result = await build({
      entryPoints: MODEL_INPUT_ROOTS.map((file) => join(REPO_ROOT, file)),
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      outdir: join(tmpdir(), 'tenantic-model-inputs'),
      logLevel: 'silent',
    });
    const bundled = Object.keys(result.metafile.inputs).map((input) =>
      relative(REPO_ROOT, resolve(process.cwd(), input)).split('\\').join('/'),
    );

    const hashed = new Set(modelInputFiles(REPO_ROOT));

    expect(bundled.length).toBeGreaterThan(10);
    expect(bundled.filter((file) => !hashed.has(file))).toEqual([]);
    expect(hashed.has('functions/core/quotas/schemas.ts')).toBe(true);
    expect(hashed.has('config/stages/dev.json')).toBe(true);
  });

  it('keys a copy of the real inputs like the original, and a one-byte change in it apart', () => {
    const copy = mkdtempSync(join(tmpdir(), 'tenantic-model-copy-'));
    try {
      const files = modelInputFiles(REPO_ROOT);
      for (const file of files) cpSync(join(REPO_ROOT, file), join(copy, file));
      const original = modelCacheKey({ stage: 'dev', rootDir: REPO_ROOT, files, env: {} });
      const copied = modelCacheKey({ stage: 'dev', rootDir: copy, files, env: {} });
      write(copy, 'lib/app.ts', `${readFileSync(join(copy, 'lib/app.ts'), 'utf8')} `);
      const changed = modelCacheKey({ stage: 'dev', rootDir: copy, files, env: {} });

      expect(copied).toBe(original);
      expect(changed).not.toBe(original);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('isModelCacheFileName', () => {
  it('knows the names the cache writes (the model and the file written aside), and no other file', () => {
    const written = modelCacheFile('/data', 'acme-prod')?.split('/').at(-1) ?? '';

    expect(isModelCacheFileName(written)).toBe(true);
    expect(isModelCacheFileName(`${written}.4242.tmp`)).toBe(true);
    expect(
      ['notes.md', 'model-.json', 'model-Acme.json', 'model-acme.json.bak', 'admin-key'].filter(
        isModelCacheFileName,
      ),
    ).toEqual([]);
  });
});
