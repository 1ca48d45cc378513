import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatPath, zodToInvalidRequest } from '../../../functions/middleware/validate';

describe('formatPath', () => {
  it('writes paths the way OpenAI names params', () => {
    expect(formatPath(['messages', 0, 'role'])).toBe('messages[0].role');
    expect(formatPath(['matrix', 1, 2])).toBe('matrix[1][2]');
    expect(formatPath([0, 'name'])).toBe('[0].name');
    expect(formatPath([])).toBe('');
  });
});

describe('zodToInvalidRequest', () => {
  const Schema = z
    .object({
      model: z.string(),
      messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.string() }).strict()),
    })
    .strict();

  it('names every issue in the message and the first one in `param`', () => {
    const parsed = Schema.safeParse({
      messages: [{ role: 'robot', content: 'hi', extra: true }, { content: 3 }],
      temperature: 2,
    });
    expect(parsed.success).toBe(false);

    const error = zodToInvalidRequest(parsed.error!, 'invalid_body', 'body');

    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('invalid_body');
    expect(error.param).toBe('model');
    for (const path of [
      'model:',
      'messages[0].role:',
      'messages[0].extra: unknown field',
      'messages[1].role:',
      'messages[1].content:',
      'temperature: unknown field',
    ]) {
      expect(error.message).toContain(path);
    }
  });

  it('names the root when the whole value is wrong', () => {
    const parsed = Schema.safeParse([1, 2]);
    const error = zodToInvalidRequest(parsed.error!, 'invalid_body', 'body');
    expect(error.param).toBeNull();
    expect(error.message.startsWith('body:')).toBe(true);
  });
});
