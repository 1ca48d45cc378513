// Unit: every client frame, good or bad, gets the right server frame back, and nothing throws.
import { describe, expect, it } from 'vitest';
import { encodeFrame, errorFrame } from '../../../functions/core/connections/frames';
import { handleClientFrame } from '../../../functions/core/connections/handle-client-frame';
import { MAX_FRAME_BYTES, type ServerFrame } from '../../../functions/core/connections/schemas';

const errorOf = (frame: ServerFrame) => {
  if (frame.type !== 'error') throw new Error(`expected an error frame, got ${JSON.stringify(frame)}`);
  return frame.error;
};

describe('handleClientFrame', () => {
  it('answers ping with pong', () => {
    expect(handleClientFrame('{"action":"ping"}')).toEqual({ type: 'pong' });
  });

  it.each([
    ['truncated JSON', '{"action":"ping",'],
    ['plain text', 'ping'],
    ['an empty frame', ''],
    ['no body at all', undefined],
  ])('rejects %s as invalid_json', (_case, body) => {
    const error = errorOf(handleClientFrame(body));

    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('rejects an action nobody serves as unknown_action, naming it', () => {
    const error = errorOf(handleClientFrame('{"action":"subscribe","channel":"runs"}'));

    expect(error).toMatchObject({ code: 'unknown_action', param: 'action' });
    expect(error.message).toContain("'subscribe'");
  });

  it.each([
    ['a JSON array', '[{"action":"ping"}]', null],
    ['a JSON string', '"ping"', null],
    ['a frame without action', '{"run_id":"run_1"}', 'action'],
    ['a non-string action', '{"action":42}', 'action'],
  ])('rejects %s as invalid_frame', (_case, body, param) => {
    expect(errorOf(handleClientFrame(body))).toMatchObject({ code: 'invalid_frame', param });
  });

  it('names every issue of a frame that fails validation', () => {
    const error = errorOf(
      handleClientFrame('{"action":"resume","run_id":"","after_seq":-1,"since":"yesterday"}'),
    );

    expect(error.code).toBe('invalid_frame');
    expect(error.param).toBe('run_id');
    expect(error.message).toContain('run_id');
    expect(error.message).toContain('after_seq');
    expect(error.message).toContain('since');
  });

  it('rejects a chat frame with wrong types, naming each field', () => {
    const error = errorOf(handleClientFrame('{"action":"chat","session_id":7,"content":null}'));

    expect(error.code).toBe('invalid_frame');
    expect(error.message).toContain('session_id');
    expect(error.message).toContain('content');
  });

  it('rejects an oversized frame before parsing it', () => {
    const body = JSON.stringify({ action: 'chat', session_id: 's1', content: 'x'.repeat(MAX_FRAME_BYTES) });

    expect(errorOf(handleClientFrame(body))).toMatchObject({ code: 'frame_too_large', param: null });
  });

  it.each([
    ['chat', '{"action":"chat","session_id":"ses_1","content":"hello","client_request_id":"req_1"}'],
    ['cancel', '{"action":"cancel","run_id":"run_1"}'],
    ['resume', '{"action":"resume","run_id":"run_1","after_seq":3}'],
  ])('answers a valid %s frame honestly: not available in this version', (action, body) => {
    const error = errorOf(handleClientFrame(body));

    expect(error).toMatchObject({ code: 'not_implemented', param: 'action' });
    expect(error.message).toContain(action);
    expect(error.message).toContain('not available yet');
  });

  it('keeps its reply within one frame even for a hostile action name', () => {
    const reply = handleClientFrame(JSON.stringify({ action: 'a'.repeat(30_000) }));

    expect(Buffer.byteLength(encodeFrame(reply))).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });
});

describe('encodeFrame', () => {
  it('truncates an error message that would overflow the frame limit, keeping the envelope', () => {
    const frame = errorFrame({ code: 'invalid_frame', message: 'é'.repeat(40_000), param: 'content' });

    const text = encodeFrame(frame);

    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const decoded = JSON.parse(text) as ServerFrame;
    expect(errorOf(decoded)).toMatchObject({ code: 'invalid_frame', param: 'content' });
    expect(errorOf(decoded).message).toContain('truncated');
  });

  it('leaves a frame that fits untouched', () => {
    expect(JSON.parse(encodeFrame({ type: 'pong' }))).toEqual({ type: 'pong' });
  });

  it('refuses a non-error frame that does not fit: its producer must split it', () => {
    const frame = errorFrame({ code: 'x', message: 'y' });
    expect(() => encodeFrame({ type: 'pong' }, 10)).toThrow(/exceeds 10/);
    expect(() => encodeFrame(frame, 20)).toThrow(/cannot fit/);
  });
});
