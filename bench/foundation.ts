// Benchmark: the Foundation's figures: bundling synth time, per-function bundle size, the local platform's
// cold start (as `npm start` does it: own emulators, template read from the CDK app) and each HTTP
// function's first (cold) and warm request through the local API Gateway emulation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalPlatform } from '../local/platform';
import { breakdownTable, measureBreakdowns, measureSynth } from './bundles';
import { buildCurrent, measureInitTimes } from './init-times';
import { kib, machine, percentile, watchHost, writeSection } from './report';

const WARM_REQUESTS = 50;
/** Fresh processes per function for its init time (median and fastest). */
const INIT_RUNS = 5;

interface RequestFigure {
  readonly route: string;
  readonly coldMs: number;
  readonly warmP50Ms: number;
  readonly warmP99Ms: number;
}

const timeRequest = async (url: string, init: RequestInit): Promise<number> => {
  const started = performance.now();
  const response = await fetch(url, init);
  await response.arrayBuffer();
  if (response.status >= 500) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status}`);
  return performance.now() - started;
};

const measureRequests = async (): Promise<{
  coldStartMs: number;
  timings: Record<string, number>;
  requests: RequestFigure[];
}> => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tenantic-bench-'));
  const platform = await startLocalPlatform({ stage: 'dev', port: 0, wsPort: 0, dataDir, log: () => {} });
  try {
    const admin = { authorization: `Bearer ${platform.adminKey}`, 'content-type': 'application/json' };
    const created = await fetch(`${platform.httpUrl}/v1/tenants`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'bench' }),
    });
    const tenant = (await created.json()) as { id: string };
    const keyResponse = await fetch(`${platform.httpUrl}/v1/tenants/${tenant.id}/api-keys`, {
      method: 'POST',
      headers: admin,
    });
    const { key } = (await keyResponse.json()) as { key: string };

    const routes: { route: string; url: string; init: RequestInit }[] = [
      { route: 'GET /openapi.json', url: `${platform.httpUrl}/openapi.json`, init: {} },
      {
        route: 'GET /v1/models',
        url: `${platform.httpUrl}/v1/models`,
        init: { headers: { authorization: `Bearer ${key}` } },
      },
      {
        route: 'GET /v1/usage',
        url: `${platform.httpUrl}/v1/usage`,
        init: { headers: { authorization: `Bearer ${key}` } },
      },
      {
        route: 'GET /v1/tenants/{id}',
        url: `${platform.httpUrl}/v1/tenants/${tenant.id}`,
        init: { headers: admin },
      },
    ];
    const requests: RequestFigure[] = [];
    for (const { route, url, init } of routes) {
      const coldMs = await timeRequest(url, init);
      const warm: number[] = [];
      for (let i = 0; i < WARM_REQUESTS; i += 1) warm.push(await timeRequest(url, init));
      requests.push({ route, coldMs, warmP50Ms: percentile(warm, 50), warmP99Ms: percentile(warm, 99) });
    }
    return { coldStartMs: platform.coldStartMs, timings: { ...platform.timings }, requests };
  } finally {
    await platform.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
};

export const runFoundationBench = async (): Promise<void> => {
  const host = machine();
  const watched = watchHost();
  const synth = measureSynth('bench');
  const breakdowns = await measureBreakdowns();
  const bundles = await buildCurrent();
  const [inits = []] = (() => {
    try {
      return measureInitTimes([bundles.built], INIT_RUNS);
    } finally {
      bundles.dispose();
    }
  })();
  const local = await measureRequests();
  const ms = (value: number) => `${Math.round(value)} ms`;
  const body = [
    '## Foundation',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${host}; ${watched.describe()}.`,
    '',
    `- Bundling \`cdk synth -c stage=${synth.stage}\` (both stacks, every function through esbuild): **${synth.synthSeconds.toFixed(1)} s**`,
    `- Local platform cold start, first start (own emulators, no model cache: the CDK app is synthesized): **${ms(local.coldStartMs)}**` +
      ` (${Object.entries(local.timings)
        .map(([name, value]) => `${name} ${ms(value)}`)
        .join(', ')})`,
    '',
    `| function | bundle (index.mjs) | gzipped | init (import, median of ${INIT_RUNS}) | init (fastest) |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...synth.bundles.map((bundle) => {
      const init = inits.find((figure) => figure.id === bundle.functionId);
      return `| ${bundle.functionId} | ${kib(bundle.bytes)} | ${kib(bundle.gzipBytes)} | ${init ? ms(init.medianMs) : '–'} | ${init ? ms(init.minMs) : '–'} |`;
    }),
    '',
    "Where the bytes come from (esbuild's metafile, minified bytes per package; budgets in lib/bundling/budgets.ts, enforced by test/infra/bundle-budgets.test.ts):",
    '',
    ...breakdownTable(breakdowns, kib),
    '',
    `Requests through the local API Gateway emulation (first request starts the function's execution environment; then ${WARM_REQUESTS} sequential warm requests):`,
    '',
    '| route | first (cold) | warm p50 | warm p99 |',
    '| --- | ---: | ---: | ---: |',
    ...local.requests.map(
      (r) => `| ${r.route} | ${ms(r.coldMs)} | ${ms(r.warmP50Ms)} | ${ms(r.warmP99Ms)} |`,
    ),
  ].join('\n');
  writeSection('foundation', body);
  process.stdout.write(`${body}\n`);
};
