// Benchmarks: `npm run bench [-- name ...]` runs the named benchmarks (default: all) and writes BENCHMARKS.md.
import { silenceExperimentalWarnings } from '../local/process-warnings';
import { runChatBench } from './chat';
import { runFoundationBench } from './foundation';
import { runInitBench } from './init';
import { runStreamBench } from './stream';

silenceExperimentalWarnings();

const BENCHES: Record<string, () => Promise<void>> = {
  foundation: runFoundationBench,
  chat: runChatBench,
  stream: runStreamBench,
  init: runInitBench,
};

const names = process.argv.slice(2);
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const bench = BENCHES[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  await bench();
}
process.exit(0);
