// Infrastructure: a function's Lambda code asset, bundled by lib/bundling/bundle.ts (the same build the
// bundle budget test and the bench measure). Kept free of esbuild itself, so a synth that skips bundling
// (tests, the local platform's model) never loads it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { FUNCTIONS } from '../../functions/platform/functions';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const CLI = path.join(import.meta.dirname, 'bundle-cli.ts');

/** Lambda's handler string for a bundle: `index.mjs` exports `name`. */
export const bundleHandler = (name: string): string => `index.${name}`;

/** Builds `entries` in one child process; each entry's bundle lands in its own folder under the result. */
const buildInOneProcess = (entries: readonly string[]): Map<string, string> => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenantic-bundles-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outdirs = new Map(entries.map((entry, index) => [entry, path.join(dir, String(index))]));
  execFileSync(process.execPath, ['--import', 'tsx', CLI, ...[...outdirs].flat()], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return outdirs;
};

/**
 * Per app, every catalogue function's bundle, built at the first function's bundling: one Node process
 * and one esbuild service for all of them instead of one each (a bundling synth took ~2.5 times as long
 * that way, most of it starting processes).
 */
const builtPerApp = new WeakMap<IConstruct, Map<string, string>>();

const bundleOf = (scope: IConstruct, entry: string): string => {
  const app = scope.node.root;
  let built = builtPerApp.get(app);
  if (!built) {
    built = buildInOneProcess([...new Set([entry, ...Object.values(FUNCTIONS).map((fn) => fn.entry)])]);
    builtPerApp.set(app, built);
  }
  const dir = built.get(entry) ?? buildInOneProcess([entry]).get(entry);
  if (!dir) throw new Error(`${entry}: not bundled`);
  return dir;
};

/**
 * The code of the function whose entry module is `entry` (from the repository root): an asset holding
 * `index.mjs` and its source map, hashed by its output so an unchanged bundle is not uploaded again.
 * Bundling runs locally (never in Docker) in a child Node process, since CDK's bundling hook is synchronous.
 *
 * @example
 * new lambda.Function(this, 'Fn', { code: bundledCode(this, 'functions/handlers/chat-api.ts'), handler: bundleHandler('handler'), … });
 */
export const bundledCode = (scope: IConstruct, entry: string): lambda.Code =>
  lambda.Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type, never used: local bundling always succeeds or throws.
      image: DockerImage.fromRegistry('dummy'),
      // Never run either, but CDK caches staged assets by their serializable bundling options: naming the
      // entry here keeps one function's bundle from being reused for the next.
      command: ['tsx', 'lib/bundling/bundle-cli.ts', entry],
      local: {
        tryBundle: (outputDir) => {
          cpSync(bundleOf(scope, entry), outputDir, { recursive: true });
          return true;
        },
      },
    },
  });
