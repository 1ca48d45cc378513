// Operations CLI: `npm run dlq -- list <queue>` and `npm run dlq -- redrive <queue> [--max N]`, against
// a running `npm start` (default) or a deployed stage (`--dlq-arn`/`--source-arn`).
import { resolve } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createEmulatorClients } from './clients';
import {
  type DeadLetterPair,
  findDeadLetterPair,
  listCloudRedrives,
  OPERATOR_QUEUES,
  peekDeadLetters,
  queueUrlOfArn,
  redriveLocally,
  startCloudRedrive,
} from './dead-letters';
import { livePlatform } from './invoke';
import { resolveDataDir } from './platform';

const USAGE = `usage:
  npm run dlq -- list <chat-runs|tool-jobs> [--max N]
  npm run dlq -- redrive <chat-runs|tool-jobs> [--max N]
local (default): the platform \`npm start\` runs under TENANTIC_DATA_DIR (default .tenantic/)
cloud: add --dlq-arn ARN (list) and --source-arn ARN (redrive) [--region R] [--rate N messages/s];
       an ARN is arn:aws:sqs:<region>:<account>:<queue name>; the names are the outputs of the stage's
       Data stack (…QueueName, …QueueDlqName: aws cloudformation describe-stacks --stack-name Tenantic-<stage>-Data)`;

export interface DlqArguments {
  readonly command: 'list' | 'redrive';
  readonly queue: string;
  readonly max?: number;
  readonly dlqArn?: string;
  readonly sourceArn?: string;
  readonly region?: string;
  readonly rate?: number;
}

export class UsageError extends Error {}

const positiveInt = (name: string, value: string | undefined): number => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new UsageError(`${name} must be a whole number ≥ 1`);
  return parsed;
};

/**
 * @example
 * parseDlqArguments(['redrive', 'chat-runs', '--max', '10']); // { command: 'redrive', queue: 'chat-runs', max: 10 }
 */
export const parseDlqArguments = (argv: readonly string[]): DlqArguments => {
  const positional: string[] = [];
  const flags: Record<string, string | undefined> = {};
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    if (!argument.startsWith('--')) {
      positional.push(argument);
      continue;
    }
    const [name, inline] = argument.slice(2).split('=', 2) as [string, string | undefined];
    flags[name] = inline ?? argv[++index];
  }
  const known = new Set(['max', 'dlq-arn', 'source-arn', 'region', 'rate']);
  const unknown = Object.keys(flags).filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new UsageError(`unknown option(s): ${unknown.map((name) => `--${name}`).join(', ')}`);
  const [command, queue, ...rest] = positional;
  if ((command !== 'list' && command !== 'redrive') || !queue || rest.length > 0) throw new UsageError('');
  if (!(queue in OPERATOR_QUEUES)) {
    throw new UsageError(`unknown queue '${queue}'; one of ${Object.keys(OPERATOR_QUEUES).join(', ')}`);
  }
  const cloud = flags['dlq-arn'] !== undefined || flags['source-arn'] !== undefined;
  if (cloud && command === 'redrive' && (!flags['dlq-arn'] || !flags['source-arn'])) {
    throw new UsageError('a cloud redrive needs both --dlq-arn and --source-arn');
  }
  if (cloud && command === 'list' && !flags['dlq-arn']) throw new UsageError('a cloud list needs --dlq-arn');
  if (cloud && command === 'redrive' && flags.max !== undefined) {
    throw new UsageError(
      '--max is local only: a cloud message move task moves every message (limit it with --rate)',
    );
  }
  return {
    command,
    queue,
    ...(flags.max !== undefined && { max: positiveInt('--max', flags.max) }),
    ...(flags['dlq-arn'] && { dlqArn: flags['dlq-arn'] }),
    ...(flags['source-arn'] && { sourceArn: flags['source-arn'] }),
    ...(flags.region && { region: flags.region }),
    ...(flags.rate !== undefined && { rate: positiveInt('--rate', flags.rate) }),
  };
};

const print = (line: string) => process.stdout.write(`${line}\n`);

const listMessages = async (sqs: SQSClient, queue: string, dlqUrl: string, max: number | undefined) => {
  const messages = await peekDeadLetters(sqs, dlqUrl, max);
  print(
    `${messages.length} message(s) in the ${queue} DLQ${max !== undefined && messages.length >= max ? ` (first ${max})` : ''}`,
  );
  for (const message of messages) {
    print(JSON.stringify(message));
  }
};

const runLocal = async (args: DlqArguments): Promise<void> => {
  const dataDir = resolveDataDir();
  const live = await livePlatform(dataDir);
  if (!live) throw new UsageError(`no running platform under ${dataDir}: start it with \`npm start\` first`);
  const clients = createEmulatorClients(live.endpoints);
  try {
    const pair: DeadLetterPair = await findDeadLetterPair(
      clients.sqs,
      OPERATOR_QUEUES[args.queue]!,
      live.endpoints.sqs,
    );
    if (args.command === 'list') return await listMessages(clients.sqs, args.queue, pair.dlqUrl, args.max);
    print(
      `redriving the ${args.queue} DLQ into ${args.queue}, one message at a time (receive → send → delete:`,
    );
    print('an interruption loses nothing; at worst one message is sent twice, which consumers absorb)');
    const { moved } = await redriveLocally(clients.sqs, pair, {
      ...(args.max !== undefined && { max: args.max }),
      onMoved: (messageId) => print(`moved ${messageId}`),
    });
    print(`${moved.length} message(s) moved`);
  } finally {
    clients.destroy();
  }
};

const runCloud = async (args: DlqArguments): Promise<void> => {
  const region = args.region ?? args.dlqArn?.split(':')[3];
  const sqs = new SQSClient(region ? { region } : {});
  try {
    if (args.command === 'list') {
      await listMessages(sqs, args.queue, queueUrlOfArn(args.dlqArn!), args.max);
      for (const task of await listCloudRedrives(sqs, args.dlqArn!))
        print(`move task: ${JSON.stringify(task)}`);
      return;
    }
    const handle = await startCloudRedrive(sqs, {
      dlqArn: args.dlqArn!,
      sourceArn: args.sourceArn!,
      ...(args.rate !== undefined && { maxPerSecond: args.rate }),
    });
    print(
      `message move task started: ${handle}; follow it with \`npm run dlq -- list ${args.queue} --dlq-arn ${args.dlqArn}\``,
    );
  } finally {
    sqs.destroy();
  }
};

/** Runs one command; resolves to the exit code. */
export const runDlq = async (argv: readonly string[]): Promise<number> => {
  try {
    const args = parseDlqArguments(argv);
    await (args.dlqArn ? runCloud(args) : runLocal(args));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message ? `${error.message}\n` : ''}${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`dlq failed: ${String((error as Error)?.message ?? error)}\n`);
    return 1;
  }
};

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'dlq.ts')) {
  runDlq(process.argv.slice(2)).then((code) => process.exit(code));
}
