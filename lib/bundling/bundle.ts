// Infrastructure: the one esbuild build of a function's bundle. ServerlessFunction (through
// bundle-cli.ts), the bundle budget test and the bench all call bundleFunction, so all three measure
// and ship exactly the same bytes.
import { writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** What Lambda loads: `index.handler` resolves to `index.mjs`. */
export const BUNDLE_FILE = 'index.mjs';

// ESM bundles still meet CommonJS dependencies that call require(); the banner gives them one.
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);";

const ZOD_LOCALES = /^\.\.\/locales\/index\.js$/;
const ZOD_ENGLISH = path.join(REPO_ROOT, 'node_modules', 'zod', 'v4', 'locales', 'en.js');

/**
 * zod's `core` and `classic` entry points re-export every locale (`z.locales.fr()` …), about 255 KiB
 * minified that no function of ours uses: we only ever speak English (zod's default, set by the `en`
 * locale, which stays). This resolves zod's own `../locales/index.js` to a module that re-exports only
 * `en`, so `z.locales.en` keeps working and any other locale fails the build rather than the request.
 * esbuild's `alias` cannot do it: it rewrites package paths only, and zod imports its locales relatively.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(esbuild) {
    esbuild.onResolve({ filter: ZOD_LOCALES }, (args) => {
      const inZod = args.importer.includes(`${path.sep}node_modules${path.sep}zod${path.sep}v4${path.sep}`);
      return inZod ? { path: 'zod-locales-en', namespace: 'zod-english-only' } : undefined;
    });
    esbuild.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(ZOD_ENGLISH)};`,
      resolveDir: path.dirname(ZOD_ENGLISH),
      loader: 'js',
    }));
  },
};

const LAMBDA_CREDENTIALS = path.join(import.meta.dirname, 'lambda-credentials.ts');

/**
 * The SDK's default credential chain resolved to lambda-credentials.ts: environment variables, then the
 * container endpoint, which is all Lambda ever uses (see that module for why). ~125 KiB less per bundle.
 */
const lambdaCredentialsOnly: Plugin = {
  name: 'lambda-credentials-only',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
      path: LAMBDA_CREDENTIALS,
    }));
  },
};

/**
 * The build options of every function: Node 22 ESM, minified, with an external source map without
 * sources (NODE_OPTIONS=--enable-source-maps uses it). The AWS SDK is bundled, not taken from the runtime:
 * it pins the version the tests ran against and, measured, imports about 100 ms faster than the same code
 * loaded unbundled from node_modules, as the runtime's copy would be. Two plugins drop what a function never
 * runs: zod's locales but English, and the SDK's credential links but environment and container.
 */
export const bundleOptions = (entry: string, root = REPO_ROOT): BuildOptions & { metafile: true } => ({
  entryPoints: [path.resolve(root, entry)],
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  plugins: [zodEnglishOnly, lambdaCredentialsOnly],
});

export interface BuiltBundle {
  /** The minified `index.mjs`, as Lambda loads it. */
  readonly code: Uint8Array;
  readonly metafile: Metafile;
}

/**
 * Bundles one function's entry module (a path from the repository root, as in the catalogue). With
 * `outdir` it also writes `index.mjs` and its source map there, as the Lambda asset.
 *
 * @example
 * const { code, metafile } = await bundleFunction('functions/handlers/authorizer-http.ts');
 */
export const bundleFunction = async (entry: string, outdir?: string): Promise<BuiltBundle> => {
  const result = await build({
    ...bundleOptions(entry),
    outfile: path.join(outdir ?? path.join(REPO_ROOT, '.bundle'), BUNDLE_FILE),
    write: false,
  });
  const code = result.outputFiles.find((file) => file.path.endsWith(BUNDLE_FILE));
  if (!code) throw new Error(`${entry}: esbuild wrote no ${BUNDLE_FILE}`);
  if (outdir) {
    await mkdir(outdir, { recursive: true });
    for (const file of result.outputFiles) writeFileSync(file.path, file.contents);
  }
  return { code: code.contents, metafile: result.metafile };
};
