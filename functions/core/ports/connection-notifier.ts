// Port: pushes server frames down a WebSocket connection (API Gateway's @connections API in the cloud).
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
}
