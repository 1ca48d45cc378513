// Infrastructure: `tsx lib/bundling/bundle-cli.ts <entry> <outdir>` writes one function's bundle. The CDK
// app runs it in a child process because asset bundling is synchronous and esbuild plugins need its
// asynchronous API.
import { bundleFunction } from './bundle';

const [entry, outdir] = process.argv.slice(2);
if (!entry || !outdir) {
  process.stderr.write('usage: tsx lib/bundling/bundle-cli.ts <entry from the repository root> <outdir>\n');
  process.exit(2);
}
await bundleFunction(entry, outdir);
