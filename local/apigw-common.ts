// Local platform: what the HTTP and WebSocket API emulations share: API Gateway's id and time formats,
// identity sources, and the authorizer result cache.
import { randomBytes } from 'node:crypto';
import type { LocalAuthorizer } from './model';

export const LOCAL_ACCOUNT_ID = '123456789012';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (value: number): string => String(value).padStart(2, '0');

/** `17/Jun/2024:15:52:39 +0000`, the format of `requestContext.time` / `requestTime`. */
export const apiGatewayTime = (date: Date): string =>
  `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;

/** An id shaped like API Gateway's request and connection ids (`ZhNHJhhLjoEEPiw=`). */
export const apiGatewayId = (): string =>
  randomBytes(11).toString('base64').replaceAll('+', 'A').replaceAll('/', 'B');

/** `Root=1-<epoch hex>-<96 bits hex>`, as X-Ray writes a trace id. */
export const traceId = (): string =>
  `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

/**
 * The value of one identity source (`$request.header.X`, `$request.querystring.x`,
 * `route.request.header.X`, `route.request.querystring.x`), or undefined when the request lacks it.
 * Header names match case-insensitively, as in API Gateway.
 */
export const identitySourceValue = (
  source: string,
  headers: Readonly<Record<string, string>>,
  query: Readonly<Record<string, string>>,
): string | undefined => {
  const match = /^(?:\$request|route\.request)\.(header|querystring)\.(.+)$/.exec(source.trim());
  if (!match) return undefined;
  const [, where, name] = match;
  const value =
    where === 'header'
      ? Object.entries(headers).find(([key]) => key.toLowerCase() === name!.toLowerCase())?.[1]
      : query[name!];
  return value === undefined || value === '' ? undefined : value;
};

interface CacheEntry<T> {
  readonly value: T;
  readonly expiresAt: number;
}

/**
 * Authorizer results cached per authorizer (its whole configuration: routes sharing one authorizer share
 * its cache, as in API Gateway) and identity-source values, for the authorizer's TTL.
 */
export class AuthorizerCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();

  get(authorizer: LocalAuthorizer, identity: readonly string[]): T | undefined {
    if (authorizer.resultTtlSeconds <= 0 || identity.length === 0) return undefined;
    const key = JSON.stringify([authorizer, identity]);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(authorizer: LocalAuthorizer, identity: readonly string[], value: T): void {
    if (authorizer.resultTtlSeconds <= 0 || identity.length === 0) return;
    this.entries.set(JSON.stringify([authorizer, identity]), {
      value,
      expiresAt: Date.now() + authorizer.resultTtlSeconds * 1000,
    });
  }
}

/** Whether an IAM policy document returned by an authorizer allows the call. */
export const policyAllows = (response: unknown): boolean => {
  const statements = (response as { policyDocument?: { Statement?: unknown } } | null)?.policyDocument
    ?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  const effects = list.map((statement) =>
    String((statement as { Effect?: string }).Effect ?? '').toLowerCase(),
  );
  // An explicit Deny wins over any Allow, as in IAM.
  return effects.includes('allow') && !effects.includes('deny');
};
