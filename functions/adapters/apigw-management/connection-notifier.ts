// Adapter: ConnectionNotifier on API Gateway's @connections management API (emulated locally).
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { ConnectionGoneError, ConnectionThrottledError } from '../../core/connections/errors';
import { encodeFrame } from '../../core/connections/frames';
import type { ServerFrame } from '../../core/connections/schemas';
import { InternalError, UpstreamError } from '../../core/errors';
import type { ConnectionNotifier } from '../../core/ports/connection-notifier';

const THROTTLED = new Set(['LimitExceededException', 'ThrottlingException', 'TooManyRequestsException']);

export interface ConnectionNotifierOptions {
  /** Tries per post when throttled, the first included. */
  maxAttempts?: number;
  /** Upper bound of the first back-off; doubles per retry, capped at maxDelayMs, fully jittered. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injected so tests neither wait nor depend on chance. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ApiGatewayConnectionNotifier implements ConnectionNotifier {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: ApiGatewayManagementApiClient,
    options: ConnectionNotifierOptions = {},
  ) {
    // Short on purpose: a frame is live traffic. Give this adapter a client with maxAttempts 1 (as
    // aws-clients.ts does), or the SDK's own throttling retries multiply these tries.
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 400;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  async post(connectionId: string, frame: ServerFrame): Promise<void> {
    const data = new TextEncoder().encode(encodeFrame(frame));
    await this.send(connectionId, 'posting to', () =>
      this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data })),
    );
  }

  async disconnect(connectionId: string): Promise<void> {
    try {
      await this.send(connectionId, 'closing', () =>
        this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })),
      );
    } catch (error) {
      // Already closed: what we wanted.
      if (!(error instanceof ConnectionGoneError)) throw error;
    }
  }

  /** One @connections call with the short jittered retry on throttling, and errors translated. */
  private async send(connectionId: string, doing: string, call: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await call();
        return;
      } catch (error) {
        const name = error instanceof Error ? error.name : 'UnknownError';
        if (name === 'GoneException') throw new ConnectionGoneError(connectionId, { cause: error });
        if (!THROTTLED.has(name)) throw translate(connectionId, doing, name, error);
        if (attempt >= this.maxAttempts) {
          throw new ConnectionThrottledError(
            `${doing} connection ${connectionId} was throttled ${attempt} times; giving up`,
            { cause: error },
          );
        }
        const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        await this.sleep(Math.floor(this.random() * ceiling));
      }
    }
  }
}

const translate = (connectionId: string, doing: string, name: string, error: unknown): Error => {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  // No status: the network failed. A 4xx other than Gone or throttling is our bug: 403 means a missing
  // execute-api:ManageConnections grant, 413 a frame that escaped encodeFrame's size check.
  if (status === undefined || status >= 500) {
    return new UpstreamError(
      'connections_api_failed',
      `${doing} connection ${connectionId} failed: ${name}`,
      {
        cause: error,
        statusCode: 502,
      },
    );
  }
  return new InternalError(
    'connections_api_rejected',
    `${doing} connection ${connectionId} was rejected: ${name}`,
    {
      cause: error,
    },
  );
};
