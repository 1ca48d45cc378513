// Integration: the @connections adapter through the real SDK client (its serializer, error parsing and
// built-in retries) against a minimal local stand-in for API Gateway's management endpoint.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiGatewayConnectionNotifier } from '../../functions/adapters/apigw-management/connection-notifier';
import { apiGatewayManagement } from '../../functions/adapters/aws-clients';
import { ConnectionGoneError, ConnectionThrottledError } from '../../functions/core/connections/errors';

// The shared client resolves region and credentials from the environment, as in a Lambda.
process.env.AWS_REGION ??= 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

let server: Server;
let endpoint: string;
const received: { path: string; body: string }[] = [];
/** `METHOD path` of every request, in order. */
const requests: string[] = [];
/** connection id → how the stand-in answers a post to it. */
const behaviour = new Map<string, 'gone' | 'throttled'>();

const readBody = async (request: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const path = decodeURIComponent(request.url ?? '');
    requests.push(`${request.method} ${path}`);
    received.push({ path, body: await readBody(request) });
    const id = path.split('/@connections/')[1] ?? '';
    const mode = behaviour.get(id);
    if (mode === undefined) return response.writeHead(200).end();
    const [status, type] = mode === 'gone' ? [410, 'GoneException'] : [429, 'LimitExceededException'];
    response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
    response.end(JSON.stringify({ message: type }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  endpoint = `http://127.0.0.1:${address.port}/dev`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received.length = 0;
  requests.length = 0;
  behaviour.clear();
});

const notifierFor = () =>
  new ApiGatewayConnectionNotifier(apiGatewayManagement(endpoint), { sleep: async () => {} });

describe('ApiGatewayConnectionNotifier over HTTP', () => {
  it('posts the frame to /@connections/{id} under the stage path', async () => {
    await notifierFor().post('Ub1YkcNGoAMCJlQ=', { type: 'pong' });

    expect(received).toEqual([{ path: '/dev/@connections/Ub1YkcNGoAMCJlQ=', body: '{"type":"pong"}' }]);
  });

  it('maps a real 410 GoneException to ConnectionGoneError', async () => {
    behaviour.set('c-gone', 'gone');

    await expect(notifierFor().post('c-gone', { type: 'pong' })).rejects.toBeInstanceOf(ConnectionGoneError);
  });

  it('gives up on persistent throttling after exactly its own tries with the shared client', async () => {
    behaviour.set('c-busy', 'throttled');
    const notifier = new ApiGatewayConnectionNotifier(apiGatewayManagement(endpoint), {
      sleep: async () => {},
    });

    const error = await notifier.post('c-busy', { type: 'pong' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConnectionThrottledError);
    expect(received).toHaveLength(3);
  });
});

describe('ApiGatewayConnectionNotifier.disconnect over HTTP', () => {
  it('sends DELETE @connections/{id}, and resolves when the client is already gone', async () => {
    const notifier = new ApiGatewayConnectionNotifier(apiGatewayManagement(endpoint), {
      sleep: async () => {},
    });
    behaviour.set('left-already', 'gone');

    await notifier.disconnect('still-here');
    await expect(notifier.disconnect('left-already')).resolves.toBeUndefined();

    expect(requests).toEqual([
      'DELETE /dev/@connections/still-here',
      'DELETE /dev/@connections/left-already',
    ]);
  });
});
