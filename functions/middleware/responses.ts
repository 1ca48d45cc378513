// Middleware: response helpers, so every route answers JSON the same way.
import type { HttpResponse } from './types';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export const jsonResponse = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponse => ({
  statusCode,
  headers: { 'Content-Type': JSON_CONTENT_TYPE, ...headers },
  body: JSON.stringify(body),
});

/**
 * A response an operation builds itself: a status that depends on the outcome (200 or 202), extra
 * headers, or a body that is not JSON (server-sent events).
 *
 * @example
 * return new HttpReply(202, JSON.stringify({ run }), { 'Content-Type': JSON_CONTENT_TYPE });
 */
export class HttpReply {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {}

  static json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
    return new HttpReply(statusCode, JSON.stringify(body), { 'Content-Type': JSON_CONTENT_TYPE, ...headers });
  }

  toResponse(): HttpResponse {
    return { statusCode: this.statusCode, headers: { ...this.headers }, body: this.body };
  }
}

export const noContent = (headers: Record<string, string> = {}): HttpResponse => ({
  statusCode: 204,
  headers,
  body: '',
});
