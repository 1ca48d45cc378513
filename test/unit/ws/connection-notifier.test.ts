// Unit: the @connections adapter's call shape and its error mapping, with the SDK client mocked.
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiGatewayConnectionNotifier } from '../../../functions/adapters/apigw-management/connection-notifier';
import { ConnectionGoneError, ConnectionThrottledError } from '../../../functions/core/connections/errors';
import { InternalError, UpstreamError } from '../../../functions/core/errors';
import { CONNECTION_POST } from '../../../functions/core/resilience/retry-policy';

const client = new ApiGatewayManagementApiClient({
  endpoint: 'https://k3x9w2v7qa.execute-api.eu-west-1.amazonaws.com/dev',
  region: 'eu-west-1',
});
const management = mockClient(client);
const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const limitExceeded = () => new LimitExceededException({ message: 'Rate exceeded', ...metadata(429) });

/** Records the back-off delays instead of waiting them out. */
const notifierWithClock = (options: { attempts?: number } = {}) => {
  const delays: number[] = [];
  const notifier = new ApiGatewayConnectionNotifier(client, {
    policy: { attempts: options.attempts ?? 3, baseDelayMs: 50, maxDelayMs: 400 },
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
  return { notifier, delays };
};

beforeEach(() => management.reset());

describe('ApiGatewayConnectionNotifier', () => {
  it('posts the encoded frame to the connection', async () => {
    management.on(PostToConnectionCommand).resolves({});
    const { notifier } = notifierWithClock();

    await notifier.post('Ub1YkcNGoAMCJlQ=', { type: 'pong' });

    const [call] = management.commandCalls(PostToConnectionCommand);
    expect(call?.args[0].input.ConnectionId).toBe('Ub1YkcNGoAMCJlQ=');
    expect(JSON.parse(Buffer.from(call?.args[0].input.Data as Uint8Array).toString())).toEqual({
      type: 'pong',
    });
  });

  it('turns GoneException into ConnectionGoneError without retrying', async () => {
    management.on(PostToConnectionCommand).rejects(new GoneException({ message: 'gone', ...metadata(410) }));
    const { notifier, delays } = notifierWithClock();

    const error = await notifier.post('c1', { type: 'pong' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConnectionGoneError);
    expect((error as ConnectionGoneError).connectionId).toBe('c1');
    expect(management.commandCalls(PostToConnectionCommand)).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('retries a throttled post with jittered, growing back-off, then succeeds', async () => {
    management
      .on(PostToConnectionCommand)
      .rejectsOnce(limitExceeded())
      .rejectsOnce(limitExceeded())
      .resolves({});
    const { notifier, delays } = notifierWithClock();

    await notifier.post('c1', { type: 'pong' });

    expect(management.commandCalls(PostToConnectionCommand)).toHaveLength(3);
    expect(delays).toHaveLength(2);
    expect(delays[1]).toBeGreaterThan(delays[0] ?? Number.POSITIVE_INFINITY);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(400);
  });

  it('surfaces throttling that outlasts its tries as a retryable ConnectionThrottledError', async () => {
    management.on(PostToConnectionCommand).rejects(limitExceeded());
    const { notifier } = notifierWithClock({ attempts: 3 });

    const error = await notifier.post('c1', { type: 'pong' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConnectionThrottledError);
    expect((error as ConnectionThrottledError).retryable).toBe(true);
    expect((error as ConnectionThrottledError).statusCode).toBe(503);
    expect((error as Error).message).toContain('throttled 3 times');
    expect(management.commandCalls(PostToConnectionCommand)).toHaveLength(3);
  });

  it('tries a throttled post CONNECTION_POST.attempts (4) times by default, its waits within the policy', async () => {
    management.on(PostToConnectionCommand).rejects(limitExceeded());
    const delays: number[] = [];
    const notifier = new ApiGatewayConnectionNotifier(client, {
      random: () => 0.999,
      sleep: async (ms) => void delays.push(ms),
    });

    await expect(notifier.post('c1', { type: 'pong' })).rejects.toBeInstanceOf(ConnectionThrottledError);

    expect(CONNECTION_POST.attempts).toBe(4);
    expect(management.commandCalls(PostToConnectionCommand)).toHaveLength(CONNECTION_POST.attempts);
    expect(delays).toEqual([249, 499, 999]);
  });

  it('treats a 403 as our misconfiguration (a bug), not the client going away', async () => {
    management
      .on(PostToConnectionCommand)
      .rejects(new ForbiddenException({ message: 'Forbidden', ...metadata(403) }));
    const { notifier } = notifierWithClock();

    await expect(notifier.post('c1', { type: 'pong' })).rejects.toBeInstanceOf(InternalError);
  });

  it('maps a 5xx from the management API to an upstream error', async () => {
    const serverError = Object.assign(new Error('Internal'), {
      name: 'InternalServerErrorException',
      ...metadata(500),
    });
    management.on(PostToConnectionCommand).rejects(serverError);
    const { notifier } = notifierWithClock();

    await expect(notifier.post('c1', { type: 'pong' })).rejects.toBeInstanceOf(UpstreamError);
  });
});

describe('ApiGatewayConnectionNotifier.disconnect', () => {
  it('deletes the connection through the management API', async () => {
    management.on(DeleteConnectionCommand).resolves({});
    const { notifier } = notifierWithClock();

    await notifier.disconnect('Ub1YkcNGoAMCJlQ=');

    const calls = management.commandCalls(DeleteConnectionCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([{ ConnectionId: 'Ub1YkcNGoAMCJlQ=' }]);
  });

  it('resolves when the client is already gone: the connection is closed either way', async () => {
    management.on(DeleteConnectionCommand).rejects(new GoneException({ message: 'gone', ...metadata(410) }));
    const { notifier } = notifierWithClock();

    await expect(notifier.disconnect('c1')).resolves.toBeUndefined();
  });

  it('retries throttling like a post, and treats a 403 as our bug', async () => {
    management.on(DeleteConnectionCommand).rejectsOnce(limitExceeded()).resolves({});
    const { notifier, delays } = notifierWithClock();
    await notifier.disconnect('c1');
    expect(management.commandCalls(DeleteConnectionCommand)).toHaveLength(2);
    expect(delays).toHaveLength(1);

    management.reset();
    management
      .on(DeleteConnectionCommand)
      .rejects(new ForbiddenException({ message: 'Forbidden', ...metadata(403) }));
    await expect(notifier.disconnect('c1')).rejects.toBeInstanceOf(InternalError);
  });
});
