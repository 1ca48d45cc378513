// Core: how a configuration that fails its zod schema is explained, the same for the functions'
// environment and for a stage's config file.
import type { z } from 'zod';

/**
 * Each issue as `path: message`; a bad record key says what is wrong with it, not just that it is.
 *
 * @example
 * describeConfigIssues(result.error); // "llm.providers.openai.baseUrl: must be https"
 */
export const describeConfigIssues = (error: z.ZodError): string =>
  error.issues
    .map((issue) => {
      const message =
        issue.code === 'invalid_key' ? issue.issues.map((inner) => inner.message).join('; ') : issue.message;
      return `${issue.path.join('.') || '(root)'}: ${message}`;
    })
    .join('; ');
