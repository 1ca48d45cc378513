// Handler: `GET /openapi.json`, the OpenAPI 3.1 document of this API (function `openapi-doc`).
import { type HttpHandlerOptions, httpHandler } from '../middleware/http-handler';
import { header } from '../middleware/types';
import { ENV } from '../platform/env';
import { buildOpenApiDocument } from './http/openapi-document';

// The document does not depend on the request, so it is built once per container; only `servers` is
// filled in per request. Nothing is cached by a client-supplied header, so no client can grow memory.
let baseDocument: Record<string, unknown> | undefined;

/** `https` unless the proxy said plain `http`: anything else a client sends is not a scheme we serve. */
const schemeOf = (forwardedProto: string | undefined): 'http' | 'https' =>
  forwardedProto?.split(',')[0]?.trim().toLowerCase() === 'http' ? 'http' : 'https';

export const createOpenApiDoc = (options: Omit<HttpHandlerOptions, 'service'> = {}) =>
  httpHandler(
    {
      getOpenApi: ({ event }) => {
        baseDocument ??= buildOpenApiDocument();
        // The server URL is where the caller reached us, so "try it" works locally and deployed alike.
        const host = event.requestContext?.domainName;
        if (!host) return baseDocument;
        const scheme = schemeOf(header(event, 'x-forwarded-proto'));
        return { ...baseDocument, servers: [{ url: `${scheme}://${host}` }] };
      },
    },
    { service: 'openapi-doc', ...options },
  );

// This public function gets no tables and may not get the full runtime config: read only what it uses.
const corsOrigins = (process.env[ENV.corsOrigins] ?? '')
  .split(',')
  .map((origin) => origin.trim())
  .filter(Boolean);
export const handler = createOpenApiDoc({ corsOrigins });
