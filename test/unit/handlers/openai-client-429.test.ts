// Unit: the official `openai` client against our handlers, through an injected fetch: our 429s raise its
// typed RateLimitError, and a monthly quota's `x-should-retry: false` stops its automatic retries.
import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';

await vi.hoisted(() => import('../../helpers/test-env'));

const { createAccountApi } = await import('../../../functions/handlers/account-api');
const { QuotaExceededError } = await import('../../../functions/core/quotas/errors');
const { jsonResponse } = await import('../../../functions/middleware/responses');
const { InMemoryQuotaLedger } = await import('../../helpers/quota-fakes');
const { lambdaContext, loadEvent, manualClock, memoryLogger, seedSampleTenant, settings, tenantDeps } =
  await import('../../helpers/tenant-fakes');

type HandlerResponse = { statusCode?: number; headers?: Record<string, string>; body?: string };

/** A fetch that answers from a handler, with the sample event of the route as the request shape. */
const fetchFrom = (respond: (url: URL) => Promise<HandlerResponse>) => {
  const calls: string[] = [];
  const fetch = async (input: string | URL | Request) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    calls.push(url.pathname);
    const response = await respond(url);
    return new Response(response.body ?? '', {
      status: response.statusCode ?? 200,
      headers: response.headers,
    });
  };
  return { fetch, calls };
};

describe('the openai client and our 429s', () => {
  it('raises RateLimitError once the minute is used up', async () => {
    const deps = tenantDeps(undefined, manualClock());
    const { tenantId, key } = await seedSampleTenant(deps.store);
    await deps.store.updateTenant(tenantId, { quota_overrides: { requests_per_minute: 1 }, updated_at: 1 });
    const api = createAccountApi(
      {
        store: deps.store,
        usage: { readCounters: vi.fn() },
        ledger: new InMemoryQuotaLedger(),
        clock: deps.clock,
        settings,
      },
      { logger: memoryLogger().logger },
    );
    const { fetch } = fetchFrom(
      async () => (await api(loadEvent('account-api', 'list-models'), lambdaContext())) as HandlerResponse,
    );
    const client = new OpenAI({ apiKey: key, baseURL: 'http://tenantic.test/v1', fetch, maxRetries: 0 });

    const first = await client.models.list();
    const error = await client.models.list().catch((caught: unknown) => caught);

    expect(first.data.map((model) => model.id)).toEqual(settings.allowedModels);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('60');
  });

  it('does not retry an exhausted monthly token quota, even with retries enabled', async () => {
    const nowSeconds = Math.floor(Date.UTC(2026, 10, 21, 9) / 1000);
    const refusal = new QuotaExceededError(
      'tokens_per_month',
      { limit: 1_000, remaining: 10, resetsAt: Math.floor(Date.UTC(2026, 11, 1) / 1000) },
      nowSeconds,
      { requested: 500 },
    );
    const { fetch, calls } = fetchFrom(async () =>
      jsonResponse(refusal.statusCode, refusal.toJSON(), refusal.headers),
    );
    const client = new OpenAI({
      apiKey: 'tk_dev_x',
      baseURL: 'http://tenantic.test/v1',
      fetch,
      maxRetries: 3,
    });

    const error = await client.models.list().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('token_quota_exceeded');
    expect(calls).toHaveLength(1);
  });
});
