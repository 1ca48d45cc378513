// Test helper: a real `ws` client of the platform's WebSocket API: connects with a fresh ticket, keeps every
// frame it receives (with its arrival time), and waits for the frame a test expects.
import WebSocket from 'ws';

// biome-ignore lint/suspicious/noExplicitAny: frames are arbitrary JSON the tests inspect.
export type Frame = Record<string, any>;

export interface WsClient {
  readonly socket: WebSocket;
  /** Every frame received, in arrival order. */
  readonly frames: Frame[];
  /** Arrival time of each frame (epoch ms, sub-ms precision), same index as `frames`. */
  readonly arrivals: number[];
  send(frame: unknown): void;
  /** Resolves with the first received frame (past or future) that matches; rejects after `timeoutMs`. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Resolves with the matching frames once `count` of them came (past ones included); rejects after `timeoutMs`. */
  waitForCount(match: (frame: Frame) => boolean, count: number, timeoutMs?: number): Promise<Frame[]>;
  close(): Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * @example
 * const client = await connectWithTicket(platform, key);
 * client.send({ action: 'ping' });
 * await client.waitFor((frame) => frame.type === 'pong');
 */
export const connectWithTicket = async (
  platform: {
    call: (path: string, init: { key: string; method: string }) => Promise<{ status: number; body: Frame }>;
    wsUrl: string;
  },
  key: string,
): Promise<WsClient> => {
  const issued = await platform.call('/v1/ws-tickets', { key, method: 'POST' });
  if (issued.status !== 201)
    throw new Error(`ticket refused: ${issued.status} ${JSON.stringify(issued.body)}`);
  const socket = new WebSocket(`${platform.wsUrl}?ticket=${encodeURIComponent(issued.body.ticket)}`);
  const frames: Frame[] = [];
  const arrivals: number[] = [];
  const waiters: { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    frames.push(frame);
    arrivals.push(now());
    for (const waiter of [...waiters]) {
      if (waiter.match(frame)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`handshake refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
  const waitFor: WsClient['waitFor'] = (match, timeoutMs = 30_000) => {
    const seen = frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (frame: Frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(
          new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`),
        );
      }, timeoutMs);
      waiters.push(waiter);
    });
  };
  return {
    socket,
    frames,
    arrivals,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    waitFor,
    // A frame that matches completes the count only once enough matching ones arrived (it is pushed first).
    waitForCount: (match, count, timeoutMs) =>
      waitFor((frame) => match(frame) && frames.filter(match).length >= count, timeoutMs).then(() =>
        frames.filter(match),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      }),
  };
};

/**
 * A run's frames as a client keeps them: deduplicated by `seq` and in `seq` order (a frame may come twice
 * around a resume at the run's very end).
 *
 * @example
 * const text = runFrames(client.frames, runId).filter((f) => f.type === 'message.delta').map((f) => f.text).join('');
 */
export const runFrames = (frames: readonly Frame[], runId: string): Frame[] => {
  const bySeq = new Map<number, Frame>();
  for (const frame of frames)
    if (frame.run_id === runId && !bySeq.has(frame.seq)) bySeq.set(frame.seq, frame);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
};

/**
 * The text of a run's deltas, concatenated in seq order, as API.md's client rule says: a `run.started`
 * with `step` k drops the text held for steps k and later (they are streamed again).
 */
export const deltaText = (frames: readonly Frame[], runId: string): string => {
  let held: Frame[] = [];
  for (const frame of runFrames(frames, runId)) {
    if (frame.type === 'run.started') held = held.filter((delta) => delta.step < frame.step);
    if (frame.type === 'message.delta') held.push(frame);
  }
  return held.map((frame) => frame.text as string).join('');
};
