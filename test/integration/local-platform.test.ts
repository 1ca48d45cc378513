// Integration: the whole local platform keeps its state, its admin key and its description in the data
// directory between runs, wipes them (and nothing else) with `fresh`, and leaves nothing running after
// stop(); an empty data dir setting means the default, never the working directory; and DynamoDB Local
// runs with one shared database and its telemetry off.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createEmulatorClients } from '../../local/clients';
import { isReachable } from '../../local/emulators';
import {
  DEFAULT_DATA_DIR,
  type PlatformFile,
  resolveDataDir,
  startLocalPlatform,
} from '../../local/platform';
import { buildFixtureModel } from '../helpers/fixture-model';

describe('local platform', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantic-platform-'));
  const model = buildFixtureModel();
  const quiet = () => undefined;
  // The key must come from the data dir here, whatever the developer's shell says.
  const savedKey = process.env.ADMIN_API_KEY;
  beforeAll(() => {
    delete process.env.ADMIN_API_KEY;
  });
  afterAll(() => {
    if (savedKey !== undefined) process.env.ADMIN_API_KEY = savedKey;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('persists tables and the admin key under the data dir across restarts', async () => {
    const first = await startLocalPlatform({ model, dataDir, port: 0, wsPort: 0, log: quiet });
    const description = JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')) as PlatformFile;
    const firstClients = createEmulatorClients(first.endpoints);
    const key = { pk: { S: 'persist' }, sk: { S: 'me' } };
    await firstClients.dynamodb.send(new PutItemCommand({ TableName: model.tables[0]!.name, Item: key }));
    firstClients.destroy();
    await first.stop();

    const second = await startLocalPlatform({ model, dataDir, port: 0, wsPort: 0, log: quiet });
    const secondClients = createEmulatorClients(second.endpoints);
    const item = await secondClients.dynamodb.send(
      new GetItemCommand({ TableName: model.tables[0]!.name, Key: key }),
    );
    secondClients.destroy();
    await second.stop();

    expect(description.httpUrl).toBe(first.httpUrl);
    expect(description.pid).toBe(process.pid);
    expect(first.adminKeySource).toBe('generated');
    expect(first.adminKey).toMatch(/^tk_admin_[0-9A-Za-z]{32}$/);
    expect(statSync(join(dataDir, 'admin-key')).mode & 0o777).toBe(0o600);
    expect(second.adminKeySource).toBe('file');
    expect(second.adminKey).toBe(first.adminKey);
    expect(item.Item?.pk?.S).toBe('persist');
    expect(existsSync(join(dataDir, 'platform.json'))).toBe(false);
    expect(await isReachable(second.endpoints.dynamodb)).toBe(false);
    expect(await isReachable(second.httpUrl)).toBe(false);
  });

  it('starts clean with fresh: the old state, key and cached model are gone, and nothing else', async () => {
    const before = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    // A data dir set by mistake to a folder with other files in it: only the platform's own go.
    writeFileSync(join(dataDir, 'model-dev.json'), '{}\n');
    writeFileSync(join(dataDir, 'notes.md'), 'mine\n');

    const platform = await startLocalPlatform({
      model,
      dataDir,
      fresh: true,
      port: 0,
      wsPort: 0,
      log: quiet,
      emulators: inject('emulators'),
    });
    await platform.stop();

    expect(platform.adminKeySource).toBe('generated');
    expect(platform.adminKey).not.toBe(before);
    expect(existsSync(join(dataDir, 'emulators'))).toBe(false);
    expect(existsSync(join(dataDir, 'model-dev.json'))).toBe(false);
    expect(readFileSync(join(dataDir, 'notes.md'), 'utf8')).toBe('mine\n');
  });
});

describe('resolveDataDir', () => {
  const saved = process.env.TENANTIC_DATA_DIR;
  afterAll(() => {
    if (saved === undefined) delete process.env.TENANTIC_DATA_DIR;
    else process.env.TENANTIC_DATA_DIR = saved;
  });

  it('takes the option, then TENANTIC_DATA_DIR, and treats an empty value as unset (never the cwd)', () => {
    process.env.TENANTIC_DATA_DIR = 'from-env';
    const fromOption = resolveDataDir('from-option');
    const fromEnv = resolveDataDir();
    const emptyOption = resolveDataDir('');
    process.env.TENANTIC_DATA_DIR = '';

    expect(fromOption).toBe(resolve('from-option'));
    expect(fromEnv).toBe(resolve('from-env'));
    expect(emptyOption).toBe(resolve('from-env'));
    expect(resolveDataDir('')).toBe(resolve(DEFAULT_DATA_DIR));
    expect(resolveDataDir()).not.toBe(process.cwd());
  });
});

describe('DynamoDB Local as the emulators start it', () => {
  /** The command lines of the processes running a DynamoDB Local jar (Linux's /proc). */
  const dynamoDbLocalCommands = (): string[][] =>
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .flatMap((pid) => {
        try {
          return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')];
        } catch {
          return [];
        }
      })
      .filter((argv) => argv.some((arg) => arg.endsWith('DynamoDBLocal.jar')));

  it.runIf(existsSync('/proc'))('serves one database to every key and sends no telemetry', () => {
    const port = new URL(inject('emulators').dynamodb).port;

    const ours = dynamoDbLocalCommands().find((argv) => argv[argv.indexOf('-port') + 1] === port);

    expect(ours).toBeDefined();
    expect(ours).toEqual(expect.arrayContaining(['-sharedDb', '-disableTelemetry']));
  });
});
