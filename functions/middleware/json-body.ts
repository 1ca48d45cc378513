// Middleware: reads a JSON body for methods that carry one. Wrong content type → 415, too large → 413,
// unparsable → 400 `invalid_json`. An empty body is left undefined for the route schema to judge.
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../core/errors';
import { type HttpMiddleware, type HttpRequest, header, state } from './types';

export interface JsonBodyOptions {
  maxBytes?: number;
  methods?: readonly string[];
}

const defaults: Required<JsonBodyOptions> = { maxBytes: 1_048_576, methods: ['POST', 'PUT', 'PATCH'] };

const isJsonContentType = (value: string | undefined): boolean => {
  const mediaType = value?.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
};

/**
 * The body's bytes as the client sent them (API Gateway base64-encodes binary bodies); undefined when
 * there is none.
 *
 * @example
 * bodyBytes(event)?.toString('utf8'); // '{"content":"Hello"}'
 */
export const bodyBytes = (
  event: Pick<HttpRequest['event'], 'body' | 'isBase64Encoded'>,
): Buffer | undefined =>
  event.body === undefined || event.body === null
    ? undefined
    : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');

export const jsonBody = (options: JsonBodyOptions = {}): HttpMiddleware => {
  const { maxBytes, methods } = { ...defaults, ...options };

  const jsonBodyBefore = (request: HttpRequest) => {
    const { event } = request;
    const http = state(request);
    if (!methods.includes(event.requestContext?.http?.method ?? '')) return;
    if (event.body === undefined || event.body === null || event.body === '') return;
    if (!isJsonContentType(header(event, 'content-type'))) {
      throw new UnsupportedMediaTypeError(
        'unsupported_media_type',
        'The request body must be application/json',
        {
          param: 'Content-Type',
        },
      );
    }
    const raw = bodyBytes(event) as Buffer;
    if (raw.byteLength > maxBytes) {
      throw new PayloadTooLargeError(
        'body_too_large',
        `The request body is ${raw.byteLength} bytes; the limit is ${maxBytes} bytes`,
      );
    }
    try {
      http.json = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new InvalidRequestError(
        'invalid_json',
        `The request body is not valid JSON: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  };

  return { before: jsonBodyBefore };
};
