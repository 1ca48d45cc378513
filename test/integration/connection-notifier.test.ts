// Integration: the @connections adapter through the real SDK client (its serializer, error parsing and
// built-in retries) against a minimal local stand-in for API Gateway's management endpoint.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiGatewayConnectionNotifier } from '../../functions/adapters/apigw-management/connection-notifier';
import { apiGatewayManagement } from '../../functions/adapters/aws-clients';
import { ConnectionGoneError, ConnectionThrottledError } from '../../functions/core/connections/errors';
import type { RunStreamStore } from '../../functions/core/ports/run-stream-store';
import { CONNECTION_POST } from '../../functions/core/resilience/retry-policy';
import type { RunFrame } from '../../functions/core/streaming/frames';
import { RunPublisher } from '../../functions/core/streaming/run-publisher';
import { awsRequestTally, startAwsRequestTally } from '../../functions/observability/aws-requests';

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
/** connection id → how many more posts to it are throttled before it accepts them. */
const throttlesLeft = new Map<string, number>();

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
    const left = throttlesLeft.get(id) ?? 0;
    if (left > 0) throttlesLeft.set(id, left - 1);
    const mode = left > 0 ? 'throttled' : behaviour.get(id);
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
  throttlesLeft.clear();
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
    expect(received).toHaveLength(CONNECTION_POST.attempts);
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

/** A run's stream with `connectionId` subscribed from the start, logging in memory. */
const oneSubscriber = (connectionId: string) => {
  const log: RunFrame[] = [];
  const subscribed = new Set([connectionId]);
  const streams: Pick<RunStreamStore, 'append' | 'readAfter' | 'last' | 'unsubscribe' | 'watch'> = {
    append: async (_tenant, _run, frames) => void log.push(...frames),
    readAfter: async (_tenant, _run, afterSeq) => log.filter((frame) => frame.seq > afterSeq),
    last: async () => log.at(-1),
    unsubscribe: async (_tenant, _run, id) => void subscribed.delete(id),
    watch: async () => ({
      status: 'in_progress',
      subscriptions: [...subscribed].map((id) => ({ connectionId: id, afterSeq: 0 })),
    }),
  };
  return { streams: streams as RunStreamStore, subscribed };
};

const publisherTo = (connectionId: string) => {
  const { streams, subscribed } = oneSubscriber(connectionId);
  const notifier = new ApiGatewayConnectionNotifier(apiGatewayManagement(endpoint), {
    sleep: async () => {},
  });
  return { publisher: new RunPublisher({ streams, notifier }, 't1', 'r1', 0), subscribed };
};

const posts = (connectionId: string) =>
  requests.filter((line) => line === `POST /dev/@connections/${connectionId}`);

describe('a run frame to a throttled connection, counted at the wire (RunPublisher, notifier, SDK client)', () => {
  it(`is sent at most CONNECTION_POST.attempts (${CONNECTION_POST.attempts}) times in all, then the connection is dropped`, async () => {
    behaviour.set('c-busy', 'throttled');
    const { publisher, subscribed } = publisherTo('c-busy');
    startAwsRequestTally();

    await publisher.refresh();
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'a' }]);
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'b' }]);
    await publisher.drain();

    // Before the shared policy: 4 publisher tries × 3 notifier tries = 12 requests for the first frame.
    expect(posts('c-busy')).toHaveLength(4);
    expect(CONNECTION_POST.attempts).toBe(4);
    expect(awsRequestTally().apigateway?.requests).toBe(4);
    expect(subscribed.has('c-busy')).toBe(false);
  });

  it('is delivered, in order, once a short throttle passes', async () => {
    throttlesLeft.set('c-slow', 2);
    const { publisher, subscribed } = publisherTo('c-slow');

    await publisher.refresh();
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'a' }]);
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'b' }]);
    await publisher.drain();

    const delivered = received
      .filter((request) => request.path === '/dev/@connections/c-slow' && request.body !== '')
      .map((request) => JSON.parse(request.body) as { seq: number; text: string });
    expect(posts('c-slow')).toHaveLength(4);
    expect(delivered.slice(-2).map((frame) => [frame.seq, frame.text])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(subscribed.has('c-slow')).toBe(true);
  });
});
