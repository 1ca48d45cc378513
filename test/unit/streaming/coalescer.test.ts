// Unit: the delta coalescer and the frame-size rules: first delta at once, flush by time and by size,
// and no piece (nor frame) above the 32 KB WebSocket limit, whatever the text.
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../functions/core/connections/frames';
import { MAX_FRAME_BYTES } from '../../../functions/core/connections/schemas';
import { DeltaCoalescer } from '../../../functions/core/streaming/coalescer';
import { fitFrameBody, jsonTextBytes, splitText } from '../../../functions/core/streaming/frames';

/** Timers the test fires by hand. */
const manualTimers = () => {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 0;
  return {
    pending,
    setTimer: (callback: () => void, ms: number) => {
      next += 1;
      pending.set(next, { callback, ms });
      return next;
    },
    clearTimer: (timer: unknown) => {
      pending.delete(timer as number);
    },
    fireAll: () => {
      for (const [id, timer] of [...pending]) {
        pending.delete(id);
        timer.callback();
      }
    },
  };
};

describe('DeltaCoalescer', () => {
  it('emits the first delta at once, then gathers until the interval fires', () => {
    const timers = manualTimers();
    const emitted: string[] = [];
    const coalescer = new DeltaCoalescer((text) => emitted.push(text), { intervalMs: 150, ...timers });

    coalescer.push('Hel');
    coalescer.push('lo');
    coalescer.push(' world');
    const beforeTimer = [...emitted];
    const interval = [...timers.pending.values()][0]?.ms;
    timers.fireAll();

    expect(beforeTimer).toEqual(['Hel']);
    expect(interval).toBe(150);
    expect(emitted).toEqual(['Hel', 'lo world']);
  });

  it('flushes as soon as the gathered text reaches flushBytes, without waiting for the timer', () => {
    const timers = manualTimers();
    const emitted: string[] = [];
    const coalescer = new DeltaCoalescer((text) => emitted.push(text), { flushBytes: 10, ...timers });

    coalescer.push('first');
    coalescer.push('abcde');
    coalescer.push('fghij');

    expect(emitted).toEqual(['first', 'abcdefghij']);
    expect(timers.pending.size).toBe(0);
  });

  it('flush() emits what is gathered and nothing when empty', () => {
    const timers = manualTimers();
    const emitted: string[] = [];
    const coalescer = new DeltaCoalescer((text) => emitted.push(text), timers);

    coalescer.push('a');
    coalescer.push('b');
    coalescer.flush();
    coalescer.flush();
    coalescer.push('');

    expect(emitted).toEqual(['a', 'b']);
  });

  it('splits a long text into pieces that each fit one frame, losing nothing', () => {
    const emitted: string[] = [];
    const coalescer = new DeltaCoalescer((text) => emitted.push(text));
    const text = `${'é'.repeat(20_000)}${'"\n'.repeat(10_000)}${'🙂'.repeat(9_000)}`;

    coalescer.push(text);

    expect(emitted.length).toBeGreaterThan(1);
    expect(emitted.join('')).toBe(text);
    for (const piece of emitted) {
      const frame = encodeFrame({
        type: 'message.delta',
        run_id: `run_${'x'.repeat(26)}`,
        seq: 1e9,
        step: 49,
        text: piece,
      });
      expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    }
  });
});

describe('frame size rules', () => {
  it('counts JSON-escaped UTF-8 bytes and splits on code points only', () => {
    const text = 'a"\u0001🙂';

    const pieces = splitText(text, 6);

    expect(jsonTextBytes(text)).toBe(Buffer.byteLength(JSON.stringify(text)) - 2);
    expect(pieces.join('')).toBe(text);
    expect(pieces.every((piece) => jsonTextBytes(piece) <= 6)).toBe(true);
    expect(pieces.every((piece) => !/[\ud800-\udbff]$/.test(piece))).toBe(true);
  });

  it('cuts oversized tool results and drops the content of a completed message too long for one frame', () => {
    const output = 'x'.repeat(100_000);
    const result = fitFrameBody({ type: 'tool.result', step: 0, tool_call_id: 'call_1', output });
    const completed = fitFrameBody({
      type: 'message.completed',
      message: {
        id: 'msg_1',
        object: 'message',
        session_id: 'ses_1',
        role: 'assistant',
        content: output,
        created_at: 1,
      } as never,
    });

    for (const body of [result, completed]) {
      expect(Buffer.byteLength(encodeFrame({ ...body, run_id: 'run_1', seq: 1 }))).toBeLessThanOrEqual(
        MAX_FRAME_BYTES,
      );
    }
    expect(result).toMatchObject({ truncated: true });
    expect(completed).toMatchObject({ content_omitted: true, message: { content: null } });
  });
});
