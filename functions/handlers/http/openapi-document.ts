// Handlers: the OpenAPI 3.1 document, generated from the route table and the zod contracts. Never
// hand-written: a schema change shows up here by construction.
import { z } from 'zod';
import { HTTP_ROUTES, type RouteAuth } from '../../platform/routes';
import { CONTRACTS, type OperationContract } from './contracts';

type Json = Record<string, unknown>;

/** The error envelope of shared/API.md. */
export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      type: z.string().describe('invalid_request_error, authentication_error, permission_error, ...'),
      code: z.string(),
      message: z.string(),
      param: z.string().nullable().describe('The offending input, e.g. `messages[0].role`'),
    }),
  })
  .meta({ id: 'Error' });

const ERROR_TEXT: Record<string, string> = {
  '400': 'Invalid input; every issue is named',
  '401': 'Missing, malformed, unknown or revoked API key',
  '403': 'The key may not use this route, or its tenant is suspended',
  '404': 'No such resource (or one of another tenant)',
  '413': 'The body is larger than allowed',
  '415': 'The body is not application/json',
  '429': 'Rate limited or quota exhausted',
  '500': 'A bug on our side',
  '503': 'A dependency is unavailable; retry',
};

const SECURITY: Record<RouteAuth, Json[]> = {
  none: [],
  admin: [{ AdminKey: [] }],
  tenant: [{ TenantKey: [] }],
};

/** Converts one schema, hoisting named schemas (`.meta({ id })`) into components. */
const schemaConverter = (components: Record<string, unknown>) => {
  const relink = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(relink);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) =>
        key === '$ref' && typeof inner === 'string'
          ? [key, inner.replace('#/$defs/', '#/components/schemas/')]
          : [key, relink(inner)],
      ),
    );
  };
  return (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const {
      $schema: _dialect,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, {
      io,
      target: 'draft-2020-12',
      unrepresentable: 'any',
    }) as Json & { $defs?: Record<string, unknown> };
    for (const [id, definition] of Object.entries($defs ?? {})) components[id] ??= relink(definition);
    return relink(rest) as Json;
  };
};

const errorCodes = (auth: RouteAuth, contract: OperationContract): string[] => [
  ...(contract.body || contract.query ? ['400'] : []),
  ...(auth === 'none' ? [] : ['401', '403']),
  ...(contract.path ? ['404'] : []),
  ...(contract.body ? ['413', '415'] : []),
  ...(auth === 'tenant' ? ['429'] : []),
  '500',
  ...(auth === 'none' ? [] : ['503']),
];

/**
 * @example
 * const doc = buildOpenApiDocument({ serverUrl: 'https://api.example.com' });
 * doc.paths['/v1/tenants'].post.operationId; // 'createTenant'
 */
export const buildOpenApiDocument = (options: { serverUrl?: string } = {}): Json => {
  const schemas: Record<string, unknown> = {};
  const convert = schemaConverter(schemas);
  convert(ErrorEnvelopeSchema, 'output');
  const errorRef = { $ref: '#/components/schemas/Error' };
  const paths: Record<string, Record<string, unknown>> = {};

  for (const route of HTTP_ROUTES) {
    const contract: OperationContract = CONTRACTS[route.operationId];
    const parameters: Json[] = [];
    for (const [where, schema] of [
      ['path', contract.path],
      ['query', contract.query],
    ] as const) {
      if (!schema) continue;
      const object = convert(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, property] of Object.entries(object.properties ?? {})) {
        const { description, ...propertySchema } = property;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (object.required ?? []).includes(name),
          ...(description ? { description } : {}),
          schema: propertySchema,
        });
      }
    }
    const responses: Record<string, unknown> = {
      [String(contract.status)]: {
        description: contract.status === 204 ? 'Done; no content' : 'Success',
        ...(contract.response && {
          content: { 'application/json': { schema: convert(contract.response, 'output') } },
        }),
      },
    };
    for (const code of errorCodes(route.auth, contract)) {
      responses[code] = {
        description: ERROR_TEXT[code],
        content: { 'application/json': { schema: errorRef } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.function],
      security: SECURITY[route.auth],
      ...(parameters.length > 0 && { parameters }),
      ...(contract.body && {
        requestBody: {
          required: !contract.body.safeParse(undefined).success,
          content: { 'application/json': { schema: convert(contract.body, 'input') } },
        },
      }),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Tenantic API',
      version: '1.0.0',
      description: 'Multi-tenant AI-agent platform. Errors use the OpenAI error envelope.',
    },
    ...(options.serverUrl && { servers: [{ url: options.serverUrl }] }),
    paths,
    components: {
      schemas,
      securitySchemes: {
        AdminKey: { type: 'http', scheme: 'bearer', description: 'The platform admin key' },
        TenantKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'tk_<stage>_<random>',
          description: 'A tenant API key',
        },
      },
    },
  };
};
