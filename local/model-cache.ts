// Local platform: caches the LocalPlatformModel of a stage in the data directory, keyed by a hash of every
// input that can change the synthesized templates, so a repeated start skips the CDK synth (20 s and more).
// Imports only node: modules, so a cache hit never loads aws-cdk-lib.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { LocalPlatformModel } from './model';

/** Bumped when the cache file's layout changes, so an old file is never read as a new one. */
const CACHE_FORMAT = 1;

/**
 * Inputs listed whole, whatever the import graph says: the CDK entry and app, the platform manifest, the
 * stage configs (read at synth time, not imported), the dependency versions, and the compiler settings.
 */
const MODEL_INPUT_GLOBS: readonly string[] = [
  'bin',
  'lib',
  'functions/platform',
  'config/stages',
  'package-lock.json',
  'tsconfig.json',
];

/** Modules whose import closure is hashed: the model reader, which imports the CDK app. */
export const MODEL_INPUT_ROOTS: readonly string[] = ['local/template-model.ts', 'bin/tenantic.ts'];

/** Environment the CDK App reads while synthesizing (context from the CLI, and its overflow file). */
const MODEL_INPUT_ENV: readonly string[] = ['CDK_CONTEXT_JSON', 'CONTEXT_OVERFLOW_LOCATION_ENV'];

const SOURCE_EXTENSIONS = ['.ts', '.mts', '.tsx', '.js', '.mjs', '.json'];

const listFiles = (rootDir: string, path: string): string[] => {
  const absolute = join(rootDir, path);
  if (!existsSync(absolute)) return [];
  if (statSync(absolute).isFile()) return [path];
  return readdirSync(absolute, { withFileTypes: true }).flatMap((entry) =>
    entry.name === 'node_modules' ? [] : listFiles(rootDir, join(path, entry.name)),
  );
};

const IMPORT_PATTERN = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Resolves an extensionless relative specifier the way tsx and the bundler do. */
const resolveSpecifier = (fromFile: string, specifier: string): string | undefined => {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [
    base,
    ...SOURCE_EXTENSIONS.map((extension) => `${base}${extension}`),
    ...SOURCE_EXTENSIONS.map((extension) => join(base, `index${extension}`)),
  ];
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
};

/** Every repository file reachable by relative imports from `roots` (packages are covered by the lock file). */
export const importClosure = (rootDir: string, roots: readonly string[]): string[] => {
  const seen = new Set<string>();
  const pending = roots.map((root) => resolve(rootDir, root)).filter((file) => existsSync(file));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (file.endsWith('.json')) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT_PATTERN)) {
      const target = resolveSpecifier(file, match[1]!);
      if (target && !seen.has(target)) pending.push(target);
    }
  }
  return [...seen].map((file) => relative(rootDir, file).split(sep).join('/'));
};

/** The sorted, repository-relative files whose contents key the model cache. */
export const modelInputFiles = (rootDir: string): string[] => {
  const files = new Set<string>();
  for (const glob of MODEL_INPUT_GLOBS) {
    for (const file of listFiles(rootDir, glob)) files.add(file.split(sep).join('/'));
  }
  for (const file of importClosure(rootDir, MODEL_INPUT_ROOTS)) files.add(file);
  return [...files].sort();
};

export interface ModelCacheKeyOptions {
  readonly stage: string;
  readonly rootDir: string;
  /** The files to hash; defaults to modelInputFiles(rootDir). */
  readonly files?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * A content hash of everything the synthesized model depends on.
 *
 * @example
 * const key = modelCacheKey({ stage: 'dev', rootDir: REPO_ROOT }); // 'sha256:3f1c…'
 */
export const modelCacheKey = (options: ModelCacheKeyOptions): string => {
  const hash = createHash('sha256');
  const field = (name: string, value: string | Buffer): void => {
    hash.update(`${name}\0${Buffer.byteLength(value)}\0`);
    hash.update(value);
  };
  field('format', String(CACHE_FORMAT));
  field('stage', options.stage);
  for (const file of options.files ?? modelInputFiles(options.rootDir)) {
    const absolute = join(options.rootDir, file);
    field(`file:${file}`, existsSync(absolute) ? readFileSync(absolute) : '<missing>');
  }
  const env = options.env ?? process.env;
  for (const name of MODEL_INPUT_ENV) {
    const value = env[name];
    field(`env:${name}`, value ?? '<unset>');
  }
  // The overflow file holds context too large for CDK_CONTEXT_JSON: its contents count, not its path.
  const overflow = env.CONTEXT_OVERFLOW_LOCATION_ENV;
  if (overflow && existsSync(overflow))
    field('env-file:CONTEXT_OVERFLOW_LOCATION_ENV', readFileSync(overflow));
  return `sha256:${hash.digest('hex')}`;
};

interface CacheFile {
  readonly format: number;
  readonly key: string;
  readonly stage: string;
  readonly createdAt: string;
  readonly model: LocalPlatformModel;
}

export type ModelSource = 'cache' | 'synthesized';

export interface CachedModel {
  readonly model: LocalPlatformModel;
  readonly source: ModelSource;
  /** The cache file read or written; undefined when the stage name cannot name a file. */
  readonly file: string | undefined;
  readonly key: string;
}

export interface LoadCachedModelOptions {
  readonly stage: string;
  readonly dataDir: string;
  /** Synthesizes the model on a miss (template-model.ts's loadLocalModel in the platform). */
  readonly load: () => Promise<LocalPlatformModel>;
  /** Ignore the cache (and rewrite it): `--fresh`. */
  readonly fresh?: boolean;
  readonly rootDir: string;
  /** Injected input list (tests); defaults to modelInputFiles(rootDir). */
  readonly files?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
}

// Stage names are checked by the stage config; until then, only a safe one may name a file.
const SAFE_STAGE_NAME = '[a-z0-9][a-z0-9-]{0,62}';
const SAFE_STAGE = new RegExp(`^${SAFE_STAGE_NAME}$`);
const CACHE_FILE_NAME = new RegExp(`^model-${SAFE_STAGE_NAME}\\.json(\\.\\d+\\.tmp)?$`);

/** Whether `loadCachedModel` writes a file of this name into a data dir: a model, or one being written. */
export const isModelCacheFileName = (name: string): boolean => CACHE_FILE_NAME.test(name);

/** `<dataDir>/model-<stage>.json`, or undefined for a stage name that cannot be a file name. */
export const modelCacheFile = (dataDir: string, stage: string): string | undefined =>
  SAFE_STAGE.test(stage) ? join(dataDir, `model-${stage}.json`) : undefined;

const readCache = (file: string, key: string): LocalPlatformModel | undefined => {
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    return cached.format === CACHE_FORMAT && cached.key === key ? cached.model : undefined;
  } catch {
    // Missing, truncated or foreign: a miss, and the synth rewrites it.
    return undefined;
  }
};

/**
 * The stage's model from `<dataDir>/model-<stage>.json` when its key matches the current inputs, else
 * from `load()` (then written back). The cached model is the synthesized one, verbatim.
 *
 * @example
 * const { model, source } = await loadCachedModel({ stage: 'dev', dataDir, rootDir, load: synthesize });
 * console.log(source); // 'cache' on the second start
 */
export const loadCachedModel = async (options: LoadCachedModelOptions): Promise<CachedModel> => {
  const key = modelCacheKey({
    stage: options.stage,
    rootDir: options.rootDir,
    ...(options.files ? { files: options.files } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  const file = modelCacheFile(options.dataDir, options.stage);
  if (file && !options.fresh) {
    const model = readCache(file, key);
    if (model) return { model, source: 'cache', file, key };
  }
  const model = await options.load();
  if (file) {
    const content: CacheFile = {
      format: CACHE_FORMAT,
      key,
      stage: options.stage,
      createdAt: new Date().toISOString(),
      model,
    };
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed, so a concurrent `npm run invoke` never reads half a file.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(content)}\n`);
    renameSync(temporary, file);
  }
  return { model, source: 'synthesized', file, key };
};
