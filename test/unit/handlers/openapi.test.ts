import { describe, expect, it, vi } from 'vitest';
import { HTTP_ROUTES } from '../../../functions/platform/routes';

await vi.hoisted(() => import('../../helpers/test-env'));

const { handler } = await import('../../../functions/handlers/openapi-doc');
const { buildOpenApiDocument } = await import('../../../functions/handlers/http/openapi-document');
const { CreateTenantRequest } = await import('../../../functions/core/tenants/schemas');
const { lambdaContext, loadEvent } = await import('../../helpers/tenant-fakes');

// biome-ignore lint/suspicious/noExplicitAny: walking a JSON document
type Doc = any;

describe('GET /openapi.json', () => {
  it('serves an OpenAPI 3.1 document without credentials', async () => {
    const response = (await handler(loadEvent('openapi-doc', 'get-openapi'), lambdaContext())) as {
      statusCode: number;
      body: string;
    };

    expect(response.statusCode).toBe(200);
    const doc = JSON.parse(response.body);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers[0].url).toBe(
      `https://${loadEvent('openapi-doc', 'get-openapi').requestContext.domainName}`,
    );
  });

  it.each([
    ['http', 'http'],
    ['HTTP, https', 'http'],
    ['https', 'https'],
    ['javascript', 'https'],
    ['', 'https'],
  ])(
    'takes the server scheme from x-forwarded-proto %j only when it is http or https',
    async (proto, scheme) => {
      const event = loadEvent('openapi-doc', 'get-openapi');
      event.headers['x-forwarded-proto'] = proto;

      const response = (await handler(event, lambdaContext())) as { body: string };

      expect(JSON.parse(response.body).servers).toEqual([
        { url: `${scheme}://${event.requestContext.domainName}` },
      ]);
    },
  );

  it('has every route of the route table with its operationId, summary and security', () => {
    const doc: Doc = buildOpenApiDocument();

    for (const route of HTTP_ROUTES) {
      const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      expect(operation.operationId).toBe(route.operationId);
      expect(operation.summary).toBe(route.summary);
      const expected = { none: [], admin: [{ AdminKey: [] }], tenant: [{ TenantKey: [] }] }[route.auth];
      expect(operation.security).toEqual(expected);
      expect(Object.keys(operation.responses).some((status) => /^2/.test(status))).toBe(true);
      expect(operation.responses['500'].content['application/json'].schema.$ref).toBe(
        '#/components/schemas/Error',
      );
    }
    const operationIds = HTTP_ROUTES.map((route) => route.operationId);
    expect(new Set(operationIds).size).toBe(operationIds.length);
  });

  it('derives request bodies from the zod schemas, strictness included', () => {
    const doc: Doc = buildOpenApiDocument();
    const ref = doc.paths['/v1/tenants'].post.requestBody.content['application/json'].schema.$ref as string;
    const schema = doc.components.schemas[ref.split('/').at(-1) as string];

    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['name']);
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(CreateTenantRequest.shape).sort());
  });

  it('resolves every $ref to a component', () => {
    const doc: Doc = buildOpenApiDocument();
    const refs: string[] = [];
    const walk = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) {
          if (key === '$ref') refs.push(inner as string);
          else walk(inner);
        }
      }
    };
    walk(doc);

    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').at(-1) as string], ref).toBeDefined();
    }
  });

  it('documents path and query parameters', () => {
    const doc: Doc = buildOpenApiDocument();
    const revoke = doc.paths['/v1/tenants/{id}/api-keys/{keyId}'].delete;
    const list = doc.paths['/v1/tenants'].get;

    expect(revoke.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual([
      'path:id',
      'path:keyId',
    ]);
    expect(list.parameters.find((p: { name: string }) => p.name === 'limit').schema).toMatchObject({
      minimum: 1,
      maximum: 100,
    });
  });
});
