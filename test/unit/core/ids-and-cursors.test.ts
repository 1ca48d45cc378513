import { describe, expect, it } from 'vitest';
import { idPattern, newId } from '../../../functions/core/ids';
import { decodeCursor, encodeCursor, InvalidCursorError } from '../../../functions/core/pagination';

describe('ids', () => {
  it('are prefixed, match their pattern, and sort by creation time', () => {
    const earlier = newId('ten', Date.UTC(2026, 0, 1));
    const later = newId('ten', Date.UTC(2026, 0, 1, 0, 0, 0, 1));

    expect(earlier).toMatch(idPattern('ten'));
    expect(earlier).not.toMatch(idPattern('key'));
    expect(earlier < later).toBe(true);
  });

  it('differ within the same millisecond', () => {
    const at = Date.now();
    expect(new Set(Array.from({ length: 200 }, () => newId('key', at))).size).toBe(200);
  });
});

describe('cursors', () => {
  const id = newId('ten', Date.UTC(2026, 5, 1));
  const pattern = idPattern('ten');

  it('round-trip the id they wrap, as opaque base64url', () => {
    const cursor = encodeCursor(id);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain(id);
    expect(decodeCursor(cursor, pattern)).toBe(id);
  });

  it.each([
    ['not base64url', 'abc$%^'],
    ['base64 of garbage', Buffer.from('hello').toString('base64url')],
    ['wrong version', Buffer.from(JSON.stringify({ v: 2, id })).toString('base64url')],
    [
      'an id of another list',
      Buffer.from(JSON.stringify({ v: 1, id: newId('key', 0) })).toString('base64url'),
    ],
    [
      'an injected key',
      Buffer.from(JSON.stringify({ v: 1, id: 'ten_x", "pk": "KEYHASH#' })).toString('base64url'),
    ],
    ['extra fields', Buffer.from(JSON.stringify({ v: 1, id, pk: 'TENANT#x' })).toString('base64url')],
    ['truncated', encodeCursor(id).slice(0, 12)],
  ])('refuse %s with 400 invalid_cursor', (_case, cursor) => {
    const attempt = () => decodeCursor(cursor, pattern);
    expect(attempt).toThrow(InvalidCursorError);
    try {
      attempt();
    } catch (error) {
      expect((error as InvalidCursorError).statusCode).toBe(400);
      expect((error as InvalidCursorError).toJSON().error).toMatchObject({
        code: 'invalid_cursor',
        param: 'after',
      });
    }
  });
});
