// Port: pushes server frames down a WebSocket connection, and closes it (API Gateway's @connections API).
import type { ServerFrame } from '../connections/schemas';

/**
 * Sends a server frame to one connected client. Implementations encode with `encodeFrame`, so nothing
 * larger than the 32 KB frame limit leaves.
 * Throws ConnectionGoneError when the client has gone (stop writing to it), ConnectionThrottledError
 * when throttling outlasted a short retry, FrameTooLargeError for a frame that must be split.
 *
 * @example
 * const notifier: ConnectionNotifier = new ApiGatewayConnectionNotifier(managementClient);
 * try {
 *   await notifier.post(connectionId, { type: 'pong' });
 * } catch (error) {
 *   if (!(error instanceof ConnectionGoneError)) throw error;
 * }
 */
export interface ConnectionNotifier {
  post(connectionId: string, frame: ServerFrame): Promise<void>;
  /**
   * Closes the connection from the server side (API Gateway then runs `$disconnect`). Resolves when the
   * client is already gone, since the goal is met; throws ConnectionThrottledError like `post`.
   *
   * @example
   * await notifier.disconnect(connectionId);
   */
  disconnect(connectionId: string): Promise<void>;
}
