// Infra: a bundled SDK client takes its credentials as Lambda hands them over (environment variables, else
// the container endpoint), though its bundle carries no other link of the SDK's default chain.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledInputs } from '../../lib/bundling/breakdown';
import { BUNDLE_FILE, bundleFunction } from '../../lib/bundling/bundle';

const run = promisify(execFile);
const outdir = mkdtempSync(path.join(tmpdir(), 'tenantic-credentials-'));
let inputs: string[] = [];
let server: Server;
let containerUrl = '';

beforeAll(async () => {
  const { metafile } = await bundleFunction('test/helpers/fixtures/bundled-credentials.ts', outdir);
  inputs = bundledInputs(metafile);
  // A container credentials endpoint, as ECS and some runtimes serve it.
  server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        AccessKeyId: 'AKIDCONTAINER',
        SecretAccessKey: 'container-secret',
        Token: 'container-token',
        Expiration: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  containerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/credentials`;
}, 60_000);

afterAll(() => {
  server?.close();
  rmSync(outdir, { recursive: true, force: true });
});

/** The credentials the bundle's client resolves in a fresh process with only `env` (or the error's name). */
const credentialsWith = async (env: Record<string, string>): Promise<Record<string, unknown>> => {
  const script = `
    const { resolveCredentials } = await import(${JSON.stringify(path.join(outdir, BUNDLE_FILE))});
    const answer = await resolveCredentials().then(
      ({ accessKeyId, sessionToken }) => ({ accessKeyId, sessionToken }),
      (error) => ({ error: error.name }),
    );
    process.stdout.write(JSON.stringify(answer));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', AWS_EC2_METADATA_DISABLED: 'true', ...env },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
};

describe('credentials in a bundle', () => {
  it('carries no credential link but environment variables and the container endpoint', () => {
    const links = inputs.filter((input) => /credential-provider-|nested-clients/.test(input));
    expect(links.filter((input) => !/credential-provider-(env|http)\//.test(input))).toEqual([]);
  });

  it("uses the environment's credentials, as Lambda sets them", async () => {
    const resolved = await credentialsWith({
      AWS_ACCESS_KEY_ID: 'AKIDENV',
      AWS_SECRET_ACCESS_KEY: 'env-secret',
      AWS_SESSION_TOKEN: 'env-token',
    });
    expect(resolved).toEqual({ accessKeyId: 'AKIDENV', sessionToken: 'env-token' });
  });

  it('falls back to the container endpoint', async () => {
    const resolved = await credentialsWith({ AWS_CONTAINER_CREDENTIALS_FULL_URI: containerUrl });
    expect(resolved).toEqual({ accessKeyId: 'AKIDCONTAINER', sessionToken: 'container-token' });
  });

  it('fails, without trying anything else, when neither is there', async () => {
    expect(await credentialsWith({})).toEqual({ error: 'CredentialsProviderError' });
  });
});
