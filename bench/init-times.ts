// Benchmark: each function's init time, as a cold start pays it: a fresh Node process (with Lambda's
// --enable-source-maps) imports the function's bundle, with the environment its module scope reads; the
// median of several processes. Also the bundles of an earlier commit, built as that commit built them,
// so a change's before and after are measured side by side on the same host.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { FunctionDefinition } from '../functions/platform/functions';
import { BUNDLE_FILE, bundleFunction, bundleOptions, REPO_ROOT } from '../lib/bundling/bundle';
import { defaultStageConfig } from '../lib/config/stages';
import { commonEnvironment } from '../lib/constructs/function-environment';
import { percentile } from './report';

/**
 * Every variable any function's module scope reads: the stage's common settings as the CDK app sets them
 * (stage `dev`), and made-up resource names (nothing is called at import). A baseline commit whose config
 * differs only needs the same names.
 */
const initEnv = (): Record<string, string> => ({
  ...commonEnvironment(defaultStageConfig('dev')),
  LOG_LEVEL: 'error',
  TENANTS_TABLE: 'bench-tenants',
  SESSIONS_TABLE: 'bench-sessions',
  QUOTAS_TABLE: 'bench-quotas',
  CONNECTIONS_TABLE: 'bench-connections',
  IDEMPOTENCY_TABLE: 'bench-idempotency',
  FILES_BUCKET: 'bench-files',
  CHAT_RUNS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/bench-chat-runs',
  TOOL_JOBS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/bench-tool-jobs',
  TENANTIC_QUEUE_MAX_RECEIVE_COUNT: '5',
  TENANTIC_QUEUE_VISIBILITY_TIMEOUT: '720',
  ADMIN_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-admin',
  WS_MANAGEMENT_ENDPOINT: 'https://k3x9w2v7qa.execute-api.eu-west-1.amazonaws.com/bench',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_SESSION_TOKEN: 'bench',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
});

// Run by `node --input-type=module`: times the import alone, in a process that has loaded nothing else.
const IMPORTER = `
const started = performance.now();
await import(process.argv[1]);
// On a line of its own, read back by its marker: a module may print at import (a library's warning).
process.stdout.write('\\ninit-ms=' + String(performance.now() - started) + '\\n');
process.exit(0);
`;

/** One function's bundle on disk. */
export interface BuiltFunction {
  readonly id: string;
  readonly file: string;
  readonly bytes: number;
}

export interface InitFigure {
  readonly id: string;
  readonly bytes: number;
  readonly medianMs: number;
  readonly minMs: number;
}

/** Builds the bundles of `catalogue` (entries from `root`) into a fresh folder; `dispose` removes it. */
const buildAll = async (
  catalogue: Record<string, FunctionDefinition>,
  bundleOne: (entry: string, outdir: string) => Promise<number>,
): Promise<{ built: BuiltFunction[]; dispose: () => void }> => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenantic-init-'));
  const built: BuiltFunction[] = [];
  for (const [id, definition] of Object.entries(catalogue)) {
    const outdir = path.join(dir, id);
    const bytes = await bundleOne(definition.entry, outdir);
    built.push({ id, file: path.join(outdir, BUNDLE_FILE), bytes });
  }
  return { built, dispose: () => rmSync(dir, { recursive: true, force: true }) };
};

/** This working tree's bundles, built as the cloud builds them (lib/bundling). */
export const buildCurrent = async () => {
  const { FUNCTIONS } = await import('../functions/platform/functions');
  return buildAll(FUNCTIONS, async (entry, outdir) => (await bundleFunction(entry, outdir)).code.byteLength);
};

/**
 * The bundles of commit `ref` (its functions/ and catalogue, this checkout's node_modules), built with the
 * options NodejsFunction used before lib/bundling existed: the same as ours without the zod plugin.
 */
export const buildAtCommit = async (ref: string) => {
  const root = mkdtempSync(path.join(tmpdir(), 'tenantic-ref-'));
  const archive = execFileSync(
    'git',
    ['archive', '--format=tar', ref, 'functions', 'tsconfig.json', 'package.json'],
    {
      cwd: REPO_ROOT,
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  execFileSync('tar', ['-x', '-C', root], { input: archive });
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const { FUNCTIONS } = (await import(
    pathToFileURL(path.join(root, 'functions/platform/functions.ts')).href
  )) as {
    FUNCTIONS: Record<string, FunctionDefinition>;
  };
  const built = await buildAll(FUNCTIONS, async (entry, outdir) => {
    const outfile = path.join(outdir, BUNDLE_FILE);
    await build({ ...bundleOptions(entry, root), plugins: [], outfile });
    return statSync(outfile).size;
  });
  return {
    built: built.built,
    dispose: () => {
      built.dispose();
      rmSync(root, { recursive: true, force: true });
    },
  };
};

const importOnce = (file: string, env: Record<string, string>, nodeOptions: readonly string[]): number => {
  const out = execFileSync(process.execPath, [...nodeOptions, '--input-type=module', '-e', IMPORTER, file], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const figure = /^init-ms=([\d.]+)$/m.exec(out)?.[1];
  if (figure === undefined)
    throw new Error(`no init time in the output of importing ${file}: ${out.slice(-500)}`);
  return Number(figure);
};

/**
 * Each bundle's import time, in `runs` fresh processes. With several sets (before, after), the runs
 * alternate between them, so a neighbour's load on a shared host weighs on both alike.
 *
 * @example
 * const [after] = measureInitTimes([current.built], 7); // [{ id: 'authorizer-http', medianMs: 142, … }, …]
 */
export const measureInitTimes = (
  sets: readonly (readonly BuiltFunction[])[],
  runs: number,
  // As Lambda runs them: the CDK app sets NODE_OPTIONS=--enable-source-maps on every function.
  nodeOptions: readonly string[] = ['--enable-source-maps'],
): InitFigure[][] => {
  const env = initEnv();
  const samples = sets.map((set) => set.map(() => [] as number[]));
  for (let run = 0; run < runs; run += 1) {
    sets.forEach((set, s) => {
      set.forEach((fn, f) => {
        samples[s]?.[f]?.push(importOnce(fn.file, env, nodeOptions));
      });
    });
  }
  return sets.map((set, s) =>
    set.map((fn, f) => {
      const times = samples[s]?.[f] ?? [];
      return { id: fn.id, bytes: fn.bytes, medianMs: percentile(times, 50), minMs: Math.min(...times) };
    }),
  );
};
