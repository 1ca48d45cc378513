// Integration: the local HTTP API builds genuine payload 2.0 events, applies HTTP API authorizer semantics,
// and maps results, errors, CORS and limits the way API Gateway does.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixturePlatform, startFixturePlatform } from '../helpers/fixture-platform';

const sample = JSON.parse(
  readFileSync(new URL('../helpers/fixtures/aws-events/apigw-http-request.json', import.meta.url), 'utf8'),
) as {
  requestContext: Record<string, unknown> & { http: Record<string, unknown> };
} & Record<string, unknown>;

const authorizerSample = JSON.parse(
  readFileSync(
    new URL('../helpers/fixtures/aws-events/apigw-http-authorizer-request.json', import.meta.url),
    'utf8',
  ),
) as { requestContext: Record<string, unknown> } & Record<string, unknown>;

interface Echo {
  event: Record<string, unknown> & {
    headers: Record<string, string>;
    requestContext: Record<string, unknown> & {
      http: Record<string, unknown>;
      authorizer?: { lambda: unknown };
    };
    body?: string;
    isBase64Encoded: boolean;
    cookies?: string[];
    queryStringParameters?: Record<string, string>;
    pathParameters?: Record<string, string>;
  };
  context: { functionName: string; memoryLimitInMB: string; awsRequestId: string };
}

describe('local HTTP API', () => {
  let fixture: FixturePlatform;
  let base: string;

  beforeAll(async () => {
    fixture = await startFixturePlatform();
    base = fixture.platform.httpUrl;
  });
  afterAll(() => fixture.stop());

  const echo = async (path: string, init?: RequestInit): Promise<Echo> => {
    const response = await fetch(`${base}${path}`, init);
    expect(response.status).toBe(200);
    return (await response.json()) as Echo;
  };

  it('builds an event with the same keys as a genuine API Gateway payload 2.0 event', async () => {
    const { event } = await echo('/private/7', { method: 'GET', headers: { authorization: 'Bearer shape' } });

    const { pathParameters: _pathParameters, ...rest } = event;
    expect(Object.keys(rest).sort()).toEqual(Object.keys(sample).sort());
    expect(Object.keys(event.requestContext).sort()).toEqual(Object.keys(sample.requestContext).sort());
    expect(Object.keys(event.requestContext.http).sort()).toEqual(
      Object.keys(sample.requestContext.http).sort(),
    );
    expect(event.version).toBe('2.0');
    expect(event.requestContext.stage).toBe('$default');
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('passes route key, path parameters, query, cookies and lower-cased headers', async () => {
    const { event } = await echo('/items/abc%20d?x=1&x=2&y=z', {
      headers: { 'X-Custom': 'One', cookie: 'a=1; b=2' },
    });

    expect(event.routeKey).toBe('GET /items/{id}');
    expect(event.rawPath).toBe('/items/abc%20d');
    expect(event.rawQueryString).toBe('x=1&x=2&y=z');
    expect(event.pathParameters).toEqual({ id: 'abc d' });
    expect(event.queryStringParameters).toEqual({ x: '1,2', y: 'z' });
    expect(event.cookies).toEqual(['a=1', 'b=2']);
    expect(event.headers['x-custom']).toBe('One');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.http.method).toBe('GET');
  });

  it('prefers a literal route over a parameter and matches greedy paths', async () => {
    const special = await echo('/items/special');
    const greedy = await echo('/files/a/b/c.txt', { method: 'DELETE' });

    expect(special.context.functionName).toBe('tenantic-fixture-other');
    expect(greedy.event.routeKey).toBe('ANY /files/{path+}');
    expect(greedy.event.pathParameters).toEqual({ path: 'a/b/c.txt' });
  });

  it('passes JSON bodies as text and binary bodies base64-encoded', async () => {
    const text = await echo('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    const binary = await echo('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 159, 255]),
    });

    expect(text.event.body).toBe('{"a":1}');
    expect(text.event.isBase64Encoded).toBe(false);
    expect(binary.event.isBase64Encoded).toBe(true);
    expect(Buffer.from(binary.event.body!, 'base64')).toEqual(Buffer.from([0, 159, 255]));
  });

  it('hands the function a Lambda context and its own name', async () => {
    const { context } = await echo('/echo');

    expect(context.functionName).toBe('tenantic-fixture-echo');
    expect(context.memoryLimitInMB).toBe('256');
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('maps results per the v2 rules: status, headers, multi-value cookies, base64 and plain objects', async () => {
    const cookies = await fetch(`${base}/echo?shape=cookies`);
    const plain = await fetch(`${base}/echo?shape=plain`);
    const binary = await fetch(`${base}/echo?shape=binary`);

    expect(cookies.status).toBe(201);
    expect(cookies.headers.get('x-fixture')).toBe('yes');
    expect(cookies.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(await cookies.text()).toBe('made');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(await plain.json()).toEqual({ hello: 'world' });
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('answers 404 for no route, 500 for a failing function, with API Gateway request ids', async () => {
    const missing = await fetch(`${base}/nowhere`);
    const failing = await fetch(`${base}/boom`);

    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: 'Not Found' });
    expect(failing.status).toBe(500);
    expect(await failing.json()).toEqual({ message: 'Internal Server Error' });
    expect(failing.headers.get('apigw-requestid')).toBeTruthy();
    expect(failing.headers.get('x-amzn-requestid')).toBe(failing.headers.get('apigw-requestid'));
    expect(
      fixture.logs.some((line) => line.startsWith('[echo]') && line.includes('boom from the fixture')),
    ).toBe(true);
  });

  it('rejects a payload over 10 MB with 413 without invoking the function', async () => {
    const response = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(10 * 1024 * 1024 + 1),
    });

    expect(response.status).toBe(413);
  });

  it('answers 413 for a body API Gateway accepts but that exceeds Lambda’s 6 MB payload', async () => {
    const response = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(7 * 1024 * 1024),
    });

    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ message: 'Request Entity Too Large' });
  });

  describe('authorizer', () => {
    it('answers 401 without calling the authorizer when the identity source is missing', async () => {
      const before =
        fixture.platform.runtime.stats().find((s) => s.functionId === 'http-authorizer')?.environments ?? 0;

      const response = await fetch(`${base}/private/1`);

      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ message: 'Unauthorized' });
      const after =
        fixture.platform.runtime.stats().find((s) => s.functionId === 'http-authorizer')?.environments ?? 0;
      expect(after).toBe(before);
    });

    it('answers 403 when the authorizer says isAuthorized: false', async () => {
      const response = await fetch(`${base}/private/1`, { headers: { authorization: 'Bearer deny-me' } });

      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ message: 'Forbidden' });
    });

    it('answers 500 when the authorizer fails', async () => {
      const response = await fetch(`${base}/private/1`, { headers: { authorization: 'Bearer boom' } });

      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ message: 'Internal Server Error' });
    });

    it('passes the authorizer context as requestContext.authorizer.lambda', async () => {
      const { event } = await echo('/private/9', { headers: { authorization: 'Bearer acme' } });

      const lambda = event.requestContext.authorizer?.lambda as { tenantId: string; routeKey: string };
      expect(lambda.tenantId).toBe('ten_acme');
      expect(lambda.routeKey).toBe('GET /private/{id}');
    });

    it('calls the authorizer with the keys of a genuine v2 REQUEST authorizer event', async () => {
      const { event } = await echo('/private/3', { headers: { authorization: 'Bearer shape-check' } });

      const lambda = event.requestContext.authorizer?.lambda as {
        eventKeys: string;
        requestContextKeys: string;
      };
      // pathParameters is there because this route has one; the genuine sample's route had none.
      expect(lambda.eventKeys.split(',').filter((key) => key !== 'pathParameters')).toEqual(
        Object.keys(authorizerSample).sort(),
      );
      expect(lambda.requestContextKeys.split(',')).toEqual(
        Object.keys(authorizerSample.requestContext).sort(),
      );
    });

    it('caches a result by identity source for resultTtlSeconds, and not when the TTL is 0', async () => {
      const headers = { authorization: 'Bearer cache-probe' };
      const first = await echo('/private/1', { headers });
      const second = await echo('/private/2', { headers });
      const other = await echo('/private/1', { headers: { authorization: 'Bearer cache-other' } });
      const uncachedA = await echo('/uncached', { headers });
      const uncachedB = await echo('/uncached', { headers });

      const nonce = (echoed: Echo) =>
        (echoed.event.requestContext.authorizer?.lambda as { nonce?: string } | undefined)?.nonce;
      expect(nonce(second)).toBe(nonce(first));
      expect(nonce(other)).not.toBe(nonce(first));
      expect(nonce(uncachedB)).not.toBe(nonce(uncachedA));
    });
  });

  describe('CORS', () => {
    it('answers a preflight from an allowed origin with the configured CORS headers', async () => {
      const response = await fetch(`${base}/echo`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });

      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(response.headers.get('access-control-allow-methods')).toBe(
        fixture.model.httpApi.cors!.allowMethods.join(','),
      );
      expect(response.headers.get('access-control-allow-headers')).toBe(
        fixture.model.httpApi.cors!.allowHeaders.join(','),
      );
      expect(response.headers.get('access-control-max-age')).toBe(
        String(fixture.model.httpApi.cors!.maxAgeSeconds),
      );
    });

    it('gives no CORS headers to another origin, and replaces the function’s own CORS headers', async () => {
      const foreign = await fetch(`${base}/echo`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      const actual = await fetch(`${base}/echo?shape=cookies`, {
        headers: { origin: 'https://app.example.com' },
      });

      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
      expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(actual.headers.get('access-control-expose-headers')).toBe('x-request-id');
    });
  });
});
