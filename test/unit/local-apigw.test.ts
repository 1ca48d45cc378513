// Unit: the pure pieces of the local API Gateway emulation (route selection, identity sources, policies,
// time and id formats) and of the local resource naming.
import { describe, expect, it } from 'vitest';
import { generateAdminKey } from '../../local/admin-key';
import {
  AuthorizerCache,
  apiGatewayId,
  apiGatewayTime,
  identitySourceValue,
  policyAllows,
} from '../../local/apigw-common';
import { queueUrlOnEndpoint } from '../../local/clients';
import { createRouter } from '../../local/http-server';
import type { LocalAuthorizer, LocalRoute } from '../../local/model';
import { localBucketName } from '../../local/provision';

const route = (routeKey: string): LocalRoute => ({ routeKey, functionId: routeKey });

describe('createRouter', () => {
  const match = createRouter([
    route('GET /items/{id}'),
    route('GET /items/special'),
    route('ANY /items/{id}'),
    route('GET /files/{path+}'),
    route('$default'),
  ]);

  it('prefers literal segments, then parameters, then a named method over ANY', () => {
    expect(match('GET', '/items/special')?.route.routeKey).toBe('GET /items/special');
    expect(match('GET', '/items/7')?.route.routeKey).toBe('GET /items/{id}');
    expect(match('PUT', '/items/7')?.route.routeKey).toBe('ANY /items/{id}');
  });

  it('decodes path parameters and lets a greedy parameter take the rest of the path', () => {
    expect(match('GET', '/items/a%2Fb')?.pathParameters).toEqual({ id: 'a/b' });
    expect(match('GET', '/files/x/y.txt')?.pathParameters).toEqual({ path: 'x/y.txt' });
  });

  it('falls back to $default, and to nothing without one', () => {
    expect(match('POST', '/elsewhere')?.route.routeKey).toBe('$default');
    expect(createRouter([route('GET /a')])('GET', '/b')).toBeUndefined();
  });
});

describe('identitySourceValue', () => {
  it('reads headers case-insensitively and query strings, for both API kinds', () => {
    const headers = { Authorization: 'Bearer x' };
    const query = { ticket: 't1' };

    expect(identitySourceValue('$request.header.authorization', headers, query)).toBe('Bearer x');
    expect(identitySourceValue('route.request.header.Authorization', headers, query)).toBe('Bearer x');
    expect(identitySourceValue('route.request.querystring.ticket', headers, query)).toBe('t1');
  });

  it('treats an absent or empty value as missing', () => {
    expect(identitySourceValue('$request.header.x-api-key', { 'x-api-key': '' }, {})).toBeUndefined();
    expect(identitySourceValue('$request.querystring.ticket', {}, {})).toBeUndefined();
  });
});

describe('policyAllows', () => {
  const policy = (...effects: string[]) => ({
    principalId: 'p',
    policyDocument: {
      Statement: effects.map((Effect) => ({ Effect, Action: 'execute-api:Invoke', Resource: '*' })),
    },
  });

  it('allows only with an Allow and no explicit Deny', () => {
    expect(policyAllows(policy('Allow'))).toBe(true);
    expect(policyAllows(policy('Allow', 'Deny'))).toBe(false);
    expect(policyAllows(policy())).toBe(false);
    expect(policyAllows(null)).toBe(false);
  });
});

describe('AuthorizerCache', () => {
  const authorizer = (resultTtlSeconds: number): LocalAuthorizer => ({
    functionId: 'auth',
    payloadFormatVersion: '2.0',
    simpleResponses: true,
    identitySource: ['$request.header.Authorization'],
    resultTtlSeconds,
  });

  it('keeps a result per authorizer and identity, and nothing for a TTL of 0', () => {
    const cache = new AuthorizerCache<string>();
    cache.set(authorizer(60), ['a'], 'cached');
    cache.set(authorizer(0), ['a'], 'never');

    expect(cache.get(authorizer(60), ['a'])).toBe('cached');
    expect(cache.get(authorizer(60), ['b'])).toBeUndefined();
    expect(cache.get(authorizer(0), ['a'])).toBeUndefined();
  });
});

describe('formats', () => {
  it('writes requestContext.time the way API Gateway does', () => {
    expect(apiGatewayTime(new Date(Date.UTC(2024, 5, 17, 15, 52, 39)))).toBe('17/Jun/2024:15:52:39 +0000');
  });

  it('makes ids shaped like API Gateway request and connection ids', () => {
    expect(apiGatewayId()).toMatch(/^[A-Za-z0-9]{15}=$/);
    expect(apiGatewayId()).not.toBe(apiGatewayId());
  });

  it('makes admin keys of tk_admin_ and 32 base62 characters', () => {
    expect(generateAdminKey()).toMatch(/^tk_admin_[0-9A-Za-z]{32}$/);
    expect(generateAdminKey()).not.toBe(generateAdminKey());
  });

  it('turns a logical id into an S3-valid bucket name', () => {
    expect(localBucketName('DataFilesBucketB56395FD')).toBe('datafilesbucketb56395fd');
    expect(localBucketName('my_bucket!')).toBe('my-bucket');
    expect(localBucketName('x'.repeat(80))).toHaveLength(63);
  });

  it('puts a queue URL on the emulator endpoint, keeping the account and name', () => {
    expect(
      queueUrlOnEndpoint('http://127.0.0.1:4566', 'http://sqs.us-east-1.localhost:9999/000000000000/q'),
    ).toBe('http://127.0.0.1:4566/000000000000/q');
  });
});
