// Handler: `GET /openapi.json`, the OpenAPI 3.1 document of this API (function `openapi-doc`).
import { type HttpHandlerOptions, httpHandler } from '../../middleware/http-handler';
import { header } from '../../middleware/types';
import { ENV } from '../../platform/env';
import { buildOpenApiDocument } from './openapi-document';

const documents = new Map<string, Record<string, unknown>>();

export const createOpenApiDoc = (options: Omit<HttpHandlerOptions, 'service'> = {}) =>
  httpHandler(
    {
      getOpenApi: ({ event }) => {
        // The server URL is where the caller reached us, so "try it" works locally and deployed alike.
        const host = event.requestContext?.domainName;
        const scheme = header(event, 'x-forwarded-proto') ?? 'https';
        const serverUrl = host ? `${scheme}://${host}` : '';
        let document = documents.get(serverUrl);
        if (!document) {
          document = buildOpenApiDocument(serverUrl ? { serverUrl } : {});
          documents.set(serverUrl, document);
        }
        return document;
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
