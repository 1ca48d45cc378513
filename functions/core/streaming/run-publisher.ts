// Core: the RunEventSink of a streaming worker: numbers a run's frames, logs them, and posts them to the
// run's subscribed connections, replaying the log to a connection that subscribed (resumed) meanwhile.
import { ConnectionGoneError, ConnectionThrottledError } from '../connections/errors';
import type { ConnectionNotifier } from '../ports/connection-notifier';
import type { RunStreamStore, RunWatch } from '../ports/run-stream-store';
import { RunSeqConflictError } from './errors';
import { fitFrameBody, type RunFrame, type RunFrameBody } from './frames';

/**
 * Where a run's frames go. `publish` returns once the frames are logged and queued for posting; `drain`
 * waits until every queued frame was posted (or its connection given up on).
 *
 * @example
 * await sink.publish([{ type: 'run.cancelled' }]);
 * await sink.drain();
 */
interface RunEventSink {
  publish(bodies: readonly RunFrameBody[]): Promise<void>;
  drain(): Promise<void>;
}

export interface RunPublisherDeps {
  readonly streams: RunStreamStore;
  readonly notifier: ConnectionNotifier;
  /** Warnings about connections given up on; optional. */
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Every operation runs on one chain, so frames are logged in seq order and a resumed connection gets its
 * replay before any live frame after it: no gap, no duplicate, in order. A frame is logged before it is
 * posted, so what a client missed is always in the log. A gone connection is dropped (the run goes on);
 * a post still throttled after the notifier's own retries (CONNECTION_POST, the one layer that retries it:
 * see core/resilience/retry-policy) drops the connection for this run (its client sees a gap in `seq` and
 * resumes). Retrying here too would multiply the notifier's tries.
 *
 * @example
 * const publisher = new RunPublisher(deps, tenantId, runId, (await streams.last(tenantId, runId))?.seq ?? 0);
 * await publisher.refresh(); // who listens, and the run's status
 * await publisher.publish([{ type: 'run.started', session_id, status: 'in_progress' }]);
 */
export class RunPublisher implements RunEventSink {
  private chain: Promise<void> = Promise.resolve();
  /** Connection id → the highest seq it was sent. */
  private readonly subscribers = new Map<string, number>();
  private readonly dropped = new Set<string>();
  private seq: number;
  private posts = 0;

  constructor(
    private readonly deps: RunPublisherDeps,
    private readonly tenantId: string,
    private readonly runId: string,
    headSeq: number,
  ) {
    this.seq = headSeq;
  }

  /** The highest seq logged so far. */
  get lastSeq(): number {
    return this.seq;
  }

  /** postToConnection calls made (benchmarks). */
  get postCount(): number {
    return this.posts;
  }

  publish(bodies: readonly RunFrameBody[]): Promise<void> {
    const logged = this.enqueue(async () => {
      const frames = await this.log(bodies);
      await Promise.all([...this.subscribers.keys()].map((connectionId) => this.send(connectionId, frames)));
    });
    return logged;
  }

  /**
   * Reads the run's status and subscriptions; a connection new to this publisher gets the logged frames
   * after its `afterSeq` first, then the live ones. Returns the watch for the caller (cancellation).
   */
  async refresh(): Promise<RunWatch> {
    const watch = await this.deps.streams.watch(this.tenantId, this.runId);
    const fresh = watch.subscriptions.filter(
      (subscription) =>
        !this.subscribers.has(subscription.connectionId) && !this.dropped.has(subscription.connectionId),
    );
    if (fresh.length > 0) {
      await this.enqueue(async () => {
        // Another refresh may have taken some of them on meanwhile.
        const newcomers = fresh.filter((subscription) => !this.subscribers.has(subscription.connectionId));
        if (newcomers.length === 0) return;
        const earliest = Math.min(...newcomers.map((subscription) => subscription.afterSeq));
        const logged =
          earliest < this.seq ? await this.deps.streams.readAfter(this.tenantId, this.runId, earliest) : [];
        await Promise.all(
          newcomers.map((subscription) => {
            this.subscribers.set(subscription.connectionId, subscription.afterSeq);
            return this.send(
              subscription.connectionId,
              logged.filter((frame) => frame.seq > subscription.afterSeq && frame.seq <= this.seq),
            );
          }),
        );
      });
    }
    return watch;
  }

  /** Forgets every subscription of the run (best effort): it ended, so nothing more will be sent. */
  async unsubscribeAll(): Promise<void> {
    await Promise.all(
      [...this.subscribers.keys()].map((connectionId) =>
        this.deps.streams.unsubscribe(this.tenantId, this.runId, connectionId).catch(() => undefined),
      ),
    );
  }

  drain(): Promise<void> {
    return this.enqueue(async () => undefined);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work);
    // One failed step must not wedge the chain; the caller of that step sees its error.
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async log(bodies: readonly RunFrameBody[]): Promise<RunFrame[]> {
    for (let attempt = 1; ; attempt += 1) {
      const frames = bodies.map(
        (body, index) =>
          ({ ...fitFrameBody(body), run_id: this.runId, seq: this.seq + index + 1 }) as RunFrame,
      );
      try {
        await this.deps.streams.append(this.tenantId, this.runId, frames);
        this.seq += frames.length;
        return frames;
      } catch (error) {
        // A second delivery of the same job streams the same run: continue after what it logged.
        if (!(error instanceof RunSeqConflictError) || attempt >= 3) throw error;
        this.seq = (await this.deps.streams.last(this.tenantId, this.runId))?.seq ?? this.seq;
      }
    }
  }

  private async send(connectionId: string, frames: readonly RunFrame[]): Promise<void> {
    for (const frame of frames) {
      if (this.dropped.has(connectionId)) return;
      if ((this.subscribers.get(connectionId) ?? 0) >= frame.seq) continue;
      if (!(await this.post(connectionId, frame))) return;
      this.subscribers.set(connectionId, frame.seq);
    }
  }

  private async post(connectionId: string, frame: RunFrame): Promise<boolean> {
    try {
      this.posts += 1;
      await this.deps.notifier.post(connectionId, frame);
      return true;
    } catch (error) {
      if (!(error instanceof ConnectionGoneError) && !(error instanceof ConnectionThrottledError)) {
        this.deps.log?.('posting a run frame failed: connection dropped for this run', {
          connection_id: connectionId,
          error,
        });
      }
      this.drop(connectionId);
      return false;
    }
  }

  private drop(connectionId: string): void {
    this.dropped.add(connectionId);
    this.subscribers.delete(connectionId);
    // Best effort: the subscription expires with the connection anyway.
    void this.deps.streams.unsubscribe(this.tenantId, this.runId, connectionId).catch(() => undefined);
  }
}
