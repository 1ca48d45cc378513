// Middleware: the WebSocket event and result shapes API Gateway (and the local platform) use.
import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
} from 'aws-lambda';

/**
 * What a REQUEST authorizer's `context` becomes on the event: flat values, plus `principalId` and
 * `integrationLatency` added by API Gateway. Kept on every later event of the same connection.
 */
type WsAuthorizerContext = Record<string, string | number | boolean | null | undefined>;

interface WsRequestContext extends Omit<APIGatewayEventWebsocketRequestContextV2, 'messageId'> {
  /** Absent on CONNECT and DISCONNECT. */
  messageId?: string;
  authorizer?: WsAuthorizerContext;
  identity?: { sourceIp?: string; userAgent?: string };
  disconnectStatusCode?: number;
  disconnectReason?: string;
}

export type WsEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<WsRequestContext> & {
  /** Present on CONNECT and DISCONNECT. */
  headers?: Record<string, string | undefined>;
};

export interface WsResult {
  statusCode: number;
  body?: string;
}
