// Benchmarks: `npm run bench [-- name ...]` runs the named benchmarks (default: all but the on-demand ones) and
// writes BENCHMARKS.md.
import { silenceExperimentalWarnings } from '../local/process-warnings';
import { runChatBench } from './chat';
import { runFoundationBench } from './foundation';
import { runInitBench } from './init';
import { runStreamBench } from './stream';
import { runSuiteBench } from './suite';

silenceExperimentalWarnings();

const BENCHES: Record<string, () => Promise<void>> = {
  foundation: runFoundationBench,
  chat: runChatBench,
  stream: runStreamBench,
  init: runInitBench,
  suite: runSuiteBench,
};

/** Run only when named: `suite` clones the repository and runs `npm ci` and the whole `npm test`. */
const ON_DEMAND = new Set(['suite']);

const names = process.argv.slice(2);
for (const name of names.length > 0 ? names : Object.keys(BENCHES).filter((known) => !ON_DEMAND.has(known))) {
  const bench = BENCHES[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  await bench();
}
process.exit(0);
