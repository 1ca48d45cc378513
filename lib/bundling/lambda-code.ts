// Infrastructure: a function's Lambda code asset, bundled by lib/bundling/bundle.ts (the same build the
// bundle budget test and the bench measure). Kept free of esbuild itself, so a synth that skips bundling
// (tests, the local platform's model) never loads it.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const CLI = path.join(import.meta.dirname, 'bundle-cli.ts');

/** Lambda's handler string for a bundle: `index.mjs` exports `name`. */
export const bundleHandler = (name: string): string => `index.${name}`;

/**
 * The code of the function whose entry module is `entry` (from the repository root): an asset holding
 * `index.mjs` and its source map, hashed by its output so an unchanged bundle is not uploaded again.
 * Bundling runs locally (never in Docker) in a child Node process, since CDK's bundling hook is synchronous.
 *
 * @example
 * new lambda.Function(this, 'Fn', { code: bundledCode('functions/handlers/chat-api.ts'), handler: bundleHandler('handler'), … });
 */
export const bundledCode = (entry: string): lambda.Code =>
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
          execFileSync(process.execPath, ['--import', 'tsx', CLI, entry, outputDir], {
            cwd: REPO_ROOT,
            stdio: ['ignore', 'inherit', 'inherit'],
          });
          return true;
        },
      },
    },
  });
