// Core: building and encoding server frames, with the 32 KB WebSocket frame limit enforced in one place.
import type { z } from 'zod';
import type { ErrorType } from '../errors';
import { FrameTooLargeError } from './errors';
import { MAX_FRAME_BYTES, type ServerFrame } from './schemas';

const encoder = new TextEncoder();
const byteLength = (text: string): number => encoder.encode(text).byteLength;

export interface ErrorFrameFields {
  type?: ErrorType;
  code: string;
  message: string;
  param?: string | null;
}

/**
 * An error frame: the API.md error envelope inside a `{"type":"error"}` frame.
 *
 * @example
 * errorFrame({ code: 'invalid_json', message: 'the frame is not valid JSON' });
 */
export const errorFrame = ({
  type = 'invalid_request_error',
  code,
  message,
  param = null,
}: ErrorFrameFields): ServerFrame => ({ type: 'error', error: { type, code, message, param } });

/**
 * Serializes a frame for the wire and guarantees it fits one WebSocket frame. An error frame's message
 * is truncated to fit; any other frame that is too large is a bug (its producer must split it), so it
 * throws FrameTooLargeError rather than letting API Gateway reject the post.
 *
 * @example
 * const data = encodeFrame({ type: 'pong' }); // '{"type":"pong"}'
 */
export const encodeFrame = (frame: ServerFrame, limit: number = MAX_FRAME_BYTES): string => {
  const text = JSON.stringify(frame);
  if (byteLength(text) <= limit) return text;
  if (frame.type !== 'error') {
    throw new FrameTooLargeError(`a '${frame.type}' frame of ${byteLength(text)} bytes exceeds ${limit}`);
  }
  const truncated = truncateErrorFrame(frame, limit);
  if (truncated === undefined) throw new FrameTooLargeError(`an error frame cannot fit in ${limit} bytes`);
  return truncated;
};

const ELLIPSIS = '… (truncated)';

const truncateErrorFrame = (frame: ServerFrame & { type: 'error' }, limit: number): string | undefined => {
  // Binary search on code points: JSON escaping makes the byte cost of a character uneven.
  const chars = Array.from(frame.error.message);
  const render = (count: number) =>
    JSON.stringify({
      ...frame,
      error: { ...frame.error, message: chars.slice(0, count).join('') + ELLIPSIS },
    });
  let low = 0;
  let high = chars.length;
  if (byteLength(render(0)) > limit) return undefined;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (byteLength(render(middle)) <= limit) low = middle;
    else high = middle - 1;
  }
  return render(low);
};

/** `messages[0].role` style path of a zod issue, or null at the root. */
const issuePath = (path: readonly PropertyKey[]): string | null => {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? null : out;
};

/** Every issue, named: `session_id: expected string; (root): unrecognized key "extra"`. */
export const describeIssues = (error: z.ZodError): { message: string; param: string | null } => {
  const parts = error.issues.map((issue) => `${issuePath(issue.path) ?? '(root)'}: ${issue.message}`);
  const first = error.issues[0];
  let param = first ? issuePath(first.path) : null;
  if (param === null && first?.code === 'unrecognized_keys') param = first.keys[0] ?? null;
  return { message: parts.join('; '), param };
};
