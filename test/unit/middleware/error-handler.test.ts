// Unit: which errors become which status: client input is a 400 through validate.ts, while a ZodError
// thrown anywhere else is a bug in our code and must be a 500, not a 400 blaming the request body.
import middy from '@middy/core';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';

await vi.hoisted(() => import('../../helpers/test-env'));

const { errorHandler } = await import('../../../functions/middleware/error-handler');
const { createTenantsApi } = await import('../../../functions/handlers/tenants-api');
const { lambdaContext, loadEvent, memoryLogger, tenantDeps } = await import('../../helpers/tenant-fakes');

type Response = { statusCode: number; body: string };

describe('errorHandler', () => {
  it('answers a stray ZodError (our own parse of our own data) with a 500 that leaks no detail', async () => {
    const { logger, lines } = memoryLogger();
    const StoredRecord = z.object({ plan: z.string() });
    const handler = middy()
      .use(errorHandler({ logger }))
      .handler(async () => StoredRecord.parse({ plan: 42 }));

    const response = (await handler({} as never, lambdaContext())) as Response;

    expect(response.statusCode).toBe(500);
    const body = JSON.parse(response.body);
    expect(body.error).toMatchObject({ type: 'api_error', code: 'internal_error', param: null });
    expect(body.error.message).not.toContain('plan');
    expect(lines.some((line) => line.level === 'error')).toBe(true);
  });
});

describe('validate.ts still answers bad client input with 400s', () => {
  const call = async (event: Record<string, unknown>) => {
    const api = createTenantsApi(tenantDeps(), { logger: memoryLogger().logger });
    const response = (await api(event as never, lambdaContext())) as Response;
    return { status: response.statusCode, error: JSON.parse(response.body).error };
  };

  it('a body of the wrong type → 400 invalid_body naming the field', async () => {
    const event = loadEvent('tenants-api', 'create-tenant');
    event.body = JSON.stringify({ name: 42 });

    const { status, error } = await call(event);

    expect(status).toBe(400);
    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_body', param: 'name' });
  });

  it('a bad query parameter → 400 invalid_query naming it', async () => {
    const event = loadEvent('tenants-api', 'list-tenants');
    event.queryStringParameters = { ...event.queryStringParameters, limit: 'many' };

    const { status, error } = await call(event);

    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_query', param: 'limit' });
  });
});
