// Infrastructure: `tsx lib/bundling/bundle-cli.ts <entry> <outdir> [<entry> <outdir> …]` writes function
// bundles, all in one process (one esbuild service, builds in parallel). The CDK app runs it as a child
// process because asset bundling is synchronous and esbuild plugins need its asynchronous API.
import { bundleFunction } from './bundle';

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  process.stderr.write('usage: tsx lib/bundling/bundle-cli.ts <entry> <outdir> [<entry> <outdir> …]\n');
  process.exit(2);
}
const pairs = args.flatMap((entry, index) => (index % 2 === 0 ? [[entry, args[index + 1] ?? '']] : []));
await Promise.all(pairs.map(([entry = '', outdir]) => bundleFunction(entry, outdir)));
