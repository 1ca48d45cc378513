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
import { CONNECTION_POST, type RetryPolicy, retrying } from '../../core/resilience/retry-policy';

const THROTTLED = new Set(['LimitExceededException', 'ThrottlingException', 'TooManyRequestsException']);

export interface ConnectionNotifierOptions {
  /** Tries and backoff of a throttled call (default CONNECTION_POST, the only layer that retries it). */
  policy?: RetryPolicy;
  /** Injected so tests neither wait nor depend on chance. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ApiGatewayConnectionNotifier implements ConnectionNotifier {
  private readonly policy: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: ApiGatewayManagementApiClient,
    options: ConnectionNotifierOptions = {},
  ) {
    // Short on purpose: a frame is live traffic. Give this adapter a client with maxAttempts 1 (as
    // aws-clients.ts does, AWS_SDK_MAX_ATTEMPTS), or the SDK's own throttling retries multiply these tries.
    this.policy = options.policy ?? CONNECTION_POST;
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

  /** One @connections call, a throttled one tried again per the policy, and errors translated. */
  private async send(connectionId: string, doing: string, call: () => Promise<unknown>): Promise<void> {
    await retrying(
      this.policy,
      { sleep: this.sleep, random: this.random },
      async (attempt) => {
        try {
          await call();
        } catch (error) {
          const name = error instanceof Error ? error.name : 'UnknownError';
          if (name === 'GoneException') throw new ConnectionGoneError(connectionId, { cause: error });
          if (!THROTTLED.has(name)) throw translate(connectionId, doing, name, error);
          throw new ConnectionThrottledError(
            `${doing} connection ${connectionId} was throttled ${attempt} times; giving up`,
            { cause: error },
          );
        }
      },
      (_attempt, error, jittered) => (error instanceof ConnectionThrottledError ? jittered() : undefined),
    );
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
