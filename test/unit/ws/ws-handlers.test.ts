// Unit: the WebSocket handlers, invoked with the sample events under events/ and in-memory fakes.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '../../../functions/core/connections/schemas';
import type { ConnectionStore } from '../../../functions/core/ports/connection-store';
import type { WsEvent } from '../../../functions/middleware/ws/types';
import { InMemoryTenantStore } from '../../helpers/tenant-fakes';
import {
  capturingLogger,
  InMemoryConnectionStore,
  lambdaContext,
  loadEvent,
  RecordingNotifier,
  seedConnectionTenant,
} from './fakes';

// Handler modules read their environment at module scope, as they do on a cold start.
vi.stubEnv('CONNECTIONS_TABLE', 'connections-unit');
vi.stubEnv('WS_MANAGEMENT_ENDPOINT', 'https://k3x9w2v7qa.execute-api.eu-west-1.amazonaws.com/dev');
vi.stubEnv('TENANTS_TABLE', 'tenants-unit');
let connectModule: typeof import('../../../functions/handlers/ws-connect');
let disconnectModule: typeof import('../../../functions/handlers/ws-disconnect');
let defaultModule: typeof import('../../../functions/handlers/ws-default');
beforeAll(async () => {
  connectModule = await import('../../../functions/handlers/ws-connect');
  disconnectModule = await import('../../../functions/handlers/ws-disconnect');
  defaultModule = await import('../../../functions/handlers/ws-default');
});

const errorCode = (frame: ServerFrame | undefined) =>
  frame?.type === 'error' ? frame.error.code : frame?.type;

describe('ws-connect', () => {
  it('records the authorized connection for the tenant, expiring within 2 hours of connect', async () => {
    const event = loadEvent<WsEvent>('ws-connect/authorized.json');
    const connections = new InMemoryConnectionStore(() => event.requestContext.connectedAt);
    const { logger, lines } = capturingLogger();
    const handler = connectModule.createConnectHandler({ connections, logger });

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 200 });
    const record = await connections.get(event.requestContext.connectionId);
    expect(record).toMatchObject({
      tenant_id: event.requestContext.authorizer?.tenantId,
      key_id: 'key_4fRt8WvZ1nCe',
    });
    expect(record?.ttl).toBeLessThanOrEqual(event.requestContext.connectedAt / 1000 + 7200);
    expect(lines.at(-1)).toMatchObject({
      connection_id: event.requestContext.connectionId,
      route_key: '$connect',
      tenant_id: event.requestContext.authorizer?.tenantId,
    });
  });

  it('refuses a connection with no authorizer context with 401, and records nothing', async () => {
    const connections = new InMemoryConnectionStore();
    const handler = connectModule.createConnectHandler({ connections, logger: capturingLogger().logger });

    const result = await handler(loadEvent<WsEvent>('ws-connect/missing-authorizer.json'), lambdaContext());

    expect(result).toEqual({ statusCode: 401 });
    expect(connections.records.size).toBe(0);
  });

  it('answers 503, not 500, when the store is unavailable', async () => {
    const { ConnectionStoreUnavailableError } = await import('../../../functions/core/connections/errors');
    const connections = new InMemoryConnectionStore();
    connections.put = async () => {
      throw new ConnectionStoreUnavailableError('throttled');
    };
    const handler = connectModule.createConnectHandler({ connections, logger: capturingLogger().logger });

    const result = await handler(loadEvent<WsEvent>('ws-connect/authorized.json'), lambdaContext());

    expect(result).toEqual({ statusCode: 503 });
  });

  it('answers 500 for a genuine bug, logging it, without throwing', async () => {
    const broken = {
      put: async () => {
        throw new TypeError('cannot read properties of undefined');
      },
    } as unknown as ConnectionStore;
    const { logger, lines } = capturingLogger();
    const handler = connectModule.createConnectHandler({ connections: broken, logger });

    const result = await handler(loadEvent<WsEvent>('ws-connect/authorized.json'), lambdaContext());

    expect(result).toEqual({ statusCode: 500 });
    expect(
      lines.some((line) => line.level === 'error' && JSON.stringify(line.error).includes('TypeError')),
    ).toBe(true);
  });
});

describe('ws-disconnect', () => {
  it('removes the record, and a repeated disconnect is still a 200', async () => {
    const connectEvent = loadEvent<WsEvent>('ws-connect/authorized.json');
    const connections = new InMemoryConnectionStore(() => connectEvent.requestContext.connectedAt);
    const logger = capturingLogger().logger;
    await connectModule.createConnectHandler({ connections, logger })(connectEvent, lambdaContext());
    const handler = disconnectModule.createDisconnectHandler({ connections, logger });
    const event = loadEvent<WsEvent>('ws-disconnect/client-closed.json');

    const first = await handler(event, lambdaContext());
    const second = await handler(event, lambdaContext());

    expect(first).toEqual({ statusCode: 200 });
    expect(second).toEqual({ statusCode: 200 });
    expect(connections.records.size).toBe(0);
  });
});

describe('ws-default', () => {
  /** A handler over fakes, with the tenant and key of the event's connection in good standing. */
  const defaultSetup = async (event: WsEvent) => {
    const notifier = new RecordingNotifier();
    const store = new InMemoryTenantStore();
    const owner = await seedConnectionTenant(store, event);
    const { logger, lines } = capturingLogger();
    const handler = defaultModule.createDefaultHandler({ notifier, store, logger });
    return { notifier, store, owner, lines, handler };
  };

  it.each([
    ['ping.json', 'pong'],
    ['unknown-action.json', 'unknown_action'],
    ['malformed-json.json', 'invalid_json'],
    ['invalid-frame.json', 'invalid_frame'],
    // This handler is built without run actions: a run frame says so instead of failing.
    ['chat.json', 'not_implemented'],
    ['resume.json', 'not_implemented'],
  ])('answers %s on the caller’s connection with %s', async (file, expected) => {
    const event = loadEvent<WsEvent>(`ws-default/${file}`);
    const { notifier, handler } = await defaultSetup(event);

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 200 });
    expect(notifier.posts).toHaveLength(1);
    expect(notifier.posts[0]?.connectionId).toBe(event.requestContext.connectionId);
    expect(errorCode(notifier.posts[0]?.frame)).toBe(expected);
    expect(notifier.disconnected).toEqual([]);
  });

  it('decodes a base64 frame before reading it', async () => {
    const event = loadEvent<WsEvent>('ws-default/ping.json');
    const { notifier, handler } = await defaultSetup(event);

    await handler(
      { ...event, body: Buffer.from('{"action":"ping"}').toString('base64'), isBase64Encoded: true },
      lambdaContext(),
    );

    expect(notifier.posts[0]?.frame).toEqual({ type: 'pong' });
  });

  it('treats a caller that has gone as no error', async () => {
    const event = loadEvent<WsEvent>('ws-default/ping.json');
    const { notifier, handler, lines } = await defaultSetup(event);
    notifier.gone.add(event.requestContext.connectionId);

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 200 });
    expect(lines.some((line) => line.level === 'error')).toBe(false);
  });

  it('a key revoked after $connect: one 401 error frame in the envelope, then the connection is closed', async () => {
    const event = loadEvent<WsEvent>('ws-default/ping.json');
    const { notifier, store, owner, handler } = await defaultSetup(event);
    await store.revokeApiKey(owner.tenantId, owner.keyId, 1);

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 401 });
    expect(notifier.posts).toHaveLength(1);
    expect(notifier.posts[0]?.frame).toMatchObject({
      type: 'error',
      error: {
        type: 'authentication_error',
        code: 'invalid_api_key',
        message: expect.stringMatching(/revoked/),
      },
    });
    expect(notifier.disconnected).toEqual([event.requestContext.connectionId]);
  });

  it('a tenant suspended after $connect: one 403 error frame, then the connection is closed', async () => {
    const event = loadEvent<WsEvent>('ws-default/ping.json');
    const { notifier, store, owner, handler } = await defaultSetup(event);
    await store.updateTenant(owner.tenantId, { status: 'suspended', updated_at: 2 });

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 403 });
    expect(notifier.posts.map((post) => post.frame)).toEqual([
      {
        type: 'error',
        error: expect.objectContaining({ type: 'permission_error', code: 'tenant_suspended' }),
      },
    ]);
    expect(notifier.disconnected).toEqual([event.requestContext.connectionId]);
  });

  it('re-checks on every frame: a frame after re-activation is answered again', async () => {
    const event = loadEvent<WsEvent>('ws-default/ping.json');
    const { notifier, store, owner, handler } = await defaultSetup(event);
    await store.updateTenant(owner.tenantId, { status: 'suspended', updated_at: 2 });
    await handler(event, lambdaContext());
    notifier.gone.clear(); // a new connection of the same key, for the sake of the test
    await store.updateTenant(owner.tenantId, { status: 'active', updated_at: 3 });

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 200 });
    expect(notifier.posts.at(-1)?.frame).toEqual({ type: 'pong' });
  });

  it('a client that leaves before the error frame is not an error, and nothing is closed twice', async () => {
    const event = loadEvent<WsEvent>('ws-default/ping.json');
    const { notifier, store, owner, handler, lines } = await defaultSetup(event);
    await store.revokeApiKey(owner.tenantId, owner.keyId, 1);
    notifier.gone.add(event.requestContext.connectionId);

    const result = await handler(event, lambdaContext());

    expect(result).toEqual({ statusCode: 200 });
    expect(notifier.disconnected).toEqual([]);
    expect(lines.some((line) => line.level === 'error')).toBe(false);
  });
});
