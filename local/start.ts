// Local platform: `npm start`. Runs the whole stage on this machine and prints where everything is.
import { join, relative } from 'node:path';
import { ENV, PROVIDER_LOCAL_VAR, providerEnv } from '../functions/platform/env';
import type { LocalPlatformModel } from './model';
import { startLocalPlatform } from './platform';
import type { PlatformEvents } from './platform-events';
import { silenceExperimentalWarnings } from './process-warnings';

silenceExperimentalWarnings();

const USAGE =
  'usage: npm start -- [--fresh] [--trace] [--stage NAME]\n' +
  "  --fresh  remove the platform's state, admin key and cached model from the data dir first\n" +
  '  --trace  print a line per finished invocation and per settled SQS batch\n';

interface Arguments {
  readonly fresh: boolean;
  readonly trace: boolean;
  readonly stage: string;
}

const parseArguments = (argv: readonly string[]): Arguments => {
  let fresh = false;
  let trace = false;
  let stage = 'dev';
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    if (argument === '--fresh') fresh = true;
    else if (argument === '--trace') trace = true;
    else if (argument === '--stage') stage = argv[++index] ?? stage;
    else if (argument.startsWith('--stage=')) stage = argument.slice('--stage='.length);
    else if (argument === '--help' || argument === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument: ${argument}\n${USAGE}`);
      process.exit(2);
    }
  }
  return { fresh, trace, stage };
};

/** `--trace`: the platform's events, one line each, beside the functions' own output. */
const traceEvents = (events: PlatformEvents): void => {
  events.on('invocation', (report) => {
    const outcome = report.ok ? 'ok' : report.errorType;
    const cold = report.coldStart ? ', cold' : '';
    process.stdout.write(
      `[invoke] ${report.functionId} ${outcome} in ${report.durationMs.toFixed(0)} ms${cold}\n`,
    );
  });
  events.on('batch', (report) => {
    const counts = report.received.map((message) => message.receiveCount);
    process.stdout.write(
      `[sqs] ${report.queue} → ${report.functionId}: ${report.received.length} received (receive count ` +
        `${Math.min(...counts)}–${Math.max(...counts)}), ${report.deleted.length} deleted\n`,
    );
  });
};

const port = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    process.stderr.write(`${name} must be a port number, got '${raw}'\n`);
    process.exit(2);
  }
  return value;
};

/**
 * One banner line per provider of the stage's catalogue (read from the functions' environment, as the
 * template states it): where it points, and whether a key is set or its models answer offline.
 */
const describeProviders = (
  model: LocalPlatformModel,
  overrides: Readonly<Record<string, string>>,
): string[] => {
  const literal = (name: string): string | undefined => {
    for (const fn of model.functions) {
      const value = fn.environment[name];
      if (value?.kind === 'literal') return value.value;
    }
    return undefined;
  };
  let catalogue: Record<string, { baseUrl?: string; models: Record<string, { fallbacks?: string[] }> }>;
  try {
    catalogue = JSON.parse(literal(ENV.llmProviders) ?? '{}');
  } catch {
    return ['(the stage has no readable provider catalogue)'];
  }
  const defaultProvider = literal(ENV.defaultProvider);
  return Object.entries(catalogue).map(([name, provider]) => {
    const names = providerEnv(name);
    const isDefault = name === defaultProvider;
    const keyFrom = overrides[names.apiKey]
      ? names.apiKey
      : isDefault && overrides[ENV.llmApiKey]
        ? ENV.llmApiKey
        : undefined;
    const url =
      overrides[names.baseUrl] ??
      (isDefault ? overrides[ENV.llmBaseUrl] : undefined) ??
      provider.baseUrl ??
      'https://api.openai.com/v1';
    const models = Object.keys(provider.models);
    if (isDefault && overrides[ENV.defaultModel] && !models.includes(overrides[ENV.defaultModel]!)) {
      models.push(overrides[ENV.defaultModel]!);
    }
    const fallbacksOf = (model: string) => provider.models[model]?.fallbacks ?? [];
    const listed = models.map((model) =>
      fallbacksOf(model).length ? `${model} (then ${fallbacksOf(model).join(', ')})` : model,
    );
    const head = `${name}${isDefault ? ' (default)' : ''}: ${listed.join(', ')}`;
    const offline = models.some((model) => fallbacksOf(model).length)
      ? 'fallbacks, then offline rule-based fallback'
      : 'offline rule-based fallback';
    return keyFrom
      ? `${head} at ${url} (key from ${keyFrom})`
      : `${head}: ${offline} (no ${isDefault ? `${ENV.llmApiKey} or ` : ''}${names.apiKey} set)`;
  });
};

const main = async (): Promise<void> => {
  const args = parseArguments(process.argv.slice(2));
  const overrides: Record<string, string> = {};
  // LOG_LEVEL too: turning up a function's logging locally should not need a stage config change. Each
  // provider's key and base URL: TENANTIC_PROVIDER_<NAME>_API_KEY / _BASE_URL.
  const forwarded = new Set<string>([
    ENV.llmApiKey,
    ENV.llmBaseUrl,
    ENV.defaultModel,
    ENV.llmTimeoutMs,
    ENV.logLevel,
  ]);
  for (const [name, value] of Object.entries(process.env)) {
    if (value && (forwarded.has(name) || PROVIDER_LOCAL_VAR.test(name))) overrides[name] = value;
  }

  const starting = startLocalPlatform({
    stage: args.stage,
    port: port('PORT', 3000),
    wsPort: port('WS_PORT', 3001),
    fresh: args.fresh,
    functionEnvOverrides: overrides,
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local platform...\n`);
    // A signal during start-up waits for the start to finish, so nothing it started is left running.
    void starting
      .then((running) => running.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`stop failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  const platform = await starting;
  if (stopping) return;
  if (args.trace) traceEvents(platform.events);
  const keyFrom =
    platform.adminKeySource === 'env'
      ? 'ADMIN_API_KEY (environment)'
      : platform.adminKeySource === 'generated'
        ? `generated and written to ${relative(process.cwd(), platform.adminKeyFile!) || platform.adminKeyFile}`
        : platform.adminKeySource === 'file'
          ? `read from ${relative(process.cwd(), platform.adminKeyFile!) || platform.adminKeyFile}`
          : 'given by the caller';
  const llm = describeProviders(platform.model, overrides);
  const { endpoints, timings } = platform;
  const show = (file: string): string => relative(process.cwd(), file) || file;
  const cacheFile = platform.modelCacheFile ? show(platform.modelCacheFile) : undefined;
  const modelFrom =
    platform.modelSource === 'cache'
      ? `from the cache ${cacheFile} (inputs unchanged since the last synth)`
      : platform.modelSource === 'synthesized'
        ? `synthesized from the CDK app${cacheFile ? `, cached in ${cacheFile}` : ''}`
        : 'given by the caller';
  const lines = [
    '',
    `Tenantic local platform, stage '${args.stage}'${args.fresh ? ' (fresh)' : ''}`,
    `  HTTP API        ${platform.httpUrl}`,
    `  WebSocket API   ${platform.wsUrl}`,
    `  admin key       ${keyFrom}`,
    ...llm.map((line, index) => `${index === 0 ? '  LLM providers   ' : '                  '}${line}`),
    `  DynamoDB Local  ${endpoints.dynamodb}`,
    `  SQS (fauxqs)    ${endpoints.sqs}`,
    `  S3 (s3rver)     ${endpoints.s3}`,
    `  data dir        ${relative(process.cwd(), platform.dataDir) || platform.dataDir}`,
    `  function logs   ${join(relative(process.cwd(), platform.dataDir) || platform.dataDir, 'logs')}/<function>.log, metrics.jsonl (EMF)`,
    `  model           ${platform.model.functions.length} functions, ${platform.model.httpApi.routes.length} HTTP routes, ` +
      `${platform.model.webSocketApi.routes.length} WebSocket routes, ${platform.model.tables.length} tables, ` +
      `${platform.model.queues.length} queues`,
    `                  ${modelFrom}`,
    `  cold start      ${platform.coldStartMs} ms (in parallel: model ${timings.model} ms, emulators ` +
      `${timings.emulators} ms; then provisioning ${timings.provision} ms, servers ${timings.servers} ms)`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
};

main().catch((error: unknown) => {
  const { code, port: busy } = (error ?? {}) as { code?: string; port?: number };
  if (code === 'EADDRINUSE') {
    process.stderr.write(
      `npm start failed: port ${busy} is in use; choose others with PORT=... WS_PORT=...\n`,
    );
  } else {
    process.stderr.write(`npm start failed: ${String((error as Error)?.stack ?? error)}\n`);
  }
  process.exit(1);
});
