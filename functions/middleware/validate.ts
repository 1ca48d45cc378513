// Middleware: checks body, query and path parameters against the route's zod schemas, naming every
// issue. `param` is the first issue's path in OpenAI style (`messages[0].role`); the message lists all.
import type { z } from 'zod';
import { InvalidRequestError, NotFoundError, type TenanticError } from '../core/errors';
import { type HttpMiddleware, type HttpRequest, state } from './types';

interface RouteSchemas {
  body?: z.ZodType;
  query?: z.ZodType;
  path?: z.ZodType;
}

export interface ValidateOptions {
  /** The schemas for a route key; undefined means nothing to validate. */
  schemasFor: (routeKey: string) => RouteSchemas | undefined;
}

/** `['messages', 0, 'role']` → `messages[0].role`. */
export const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    const name = String(part);
    return out === '' ? name : `${out}.${name}`;
  }, '');

const issuePaths = (issue: z.core.$ZodIssue): string[] =>
  issue.code === 'unrecognized_keys'
    ? issue.keys.map((key) => formatPath([...issue.path, key]))
    : [formatPath(issue.path)];

/**
 * @example
 * zodToInvalidRequest(error, 'invalid_body', 'body'); // 400, param 'messages[0].role', all issues in the message
 */
export const zodToInvalidRequest = (error: z.ZodError, code: string, root: string): InvalidRequestError => {
  const described = error.issues.flatMap((issue) =>
    issuePaths(issue).map((path) => ({
      path,
      text: `${path || root}: ${issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message}`,
    })),
  );
  const first = described[0]?.path;
  return new InvalidRequestError(code, described.map((entry) => entry.text).join('; '), {
    param: first || undefined,
    cause: error,
  });
};

export const validate = (options: ValidateOptions): HttpMiddleware => {
  const check = (
    schema: z.ZodType | undefined,
    value: unknown,
    onError: (error: z.ZodError) => TenanticError,
  ) => {
    if (!schema) return value;
    const result = schema.safeParse(value);
    if (!result.success) throw onError(result.error);
    return result.data;
  };

  const validateBefore = (request: HttpRequest) => {
    const http = state(request);
    const schemas = options.schemasFor(request.event.routeKey) ?? {};
    // A path that names no resource of the right shape is simply not found.
    const path = check(schemas.path, request.event.pathParameters ?? {}, (error) => {
      const param = formatPath(error.issues[0]?.path ?? []);
      return new NotFoundError('not_found', `No resource at ${request.event.rawPath}`, {
        param,
        cause: error,
      });
    });
    const query = check(schemas.query, request.event.queryStringParameters ?? {}, (error) =>
      zodToInvalidRequest(error, 'invalid_query', 'query'),
    );
    const body = check(schemas.body, http.json, (error) =>
      zodToInvalidRequest(error, 'invalid_body', 'body'),
    );
    http.input = { body, query, path };
  };

  return { before: validateBefore };
};
