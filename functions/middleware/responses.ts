// Middleware: response helpers, so every route answers JSON the same way.
import type { HttpResponse } from './types';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export const jsonResponse = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponse => ({
  statusCode,
  headers: { 'Content-Type': JSON_CONTENT_TYPE, ...headers },
  body: JSON.stringify(body),
});

export const noContent = (headers: Record<string, string> = {}): HttpResponse => ({
  statusCode: 204,
  headers,
  body: '',
});
