// Test fakes: an in-memory RunStreamStore with the port's documented semantics (conditional appends per
// seq, subscriptions, claims), reading run status from the session store it is given.
import type { RunStreamStore, RunSubscription, RunWatch } from '../../functions/core/ports/run-stream-store';
import type { SessionStore } from '../../functions/core/ports/session-store';
import { RunSeqConflictError } from '../../functions/core/streaming/errors';
import type { RunFrame } from '../../functions/core/streaming/frames';

const key = (tenantId: string, runId: string) => `${tenantId}#${runId}`;

export class InMemoryRunStreamStore implements RunStreamStore {
  readonly logs = new Map<string, RunFrame[]>();
  readonly subscriptions = new Map<string, Map<string, number>>();
  readonly claims = new Map<string, string>();
  readonly revived: string[] = [];

  constructor(private readonly sessions: SessionStore) {}

  async append(tenantId: string, runId: string, frames: readonly RunFrame[]) {
    const log = this.logs.get(key(tenantId, runId)) ?? [];
    if (frames.some((frame) => log.some((logged) => logged.seq === frame.seq)))
      throw new RunSeqConflictError(runId);
    log.push(...structuredClone(frames));
    log.sort((a, b) => a.seq - b.seq);
    this.logs.set(key(tenantId, runId), log);
  }
  async readAfter(tenantId: string, runId: string, afterSeq: number) {
    return structuredClone(
      (this.logs.get(key(tenantId, runId)) ?? []).filter((frame) => frame.seq > afterSeq),
    );
  }
  async last(tenantId: string, runId: string) {
    return structuredClone(this.logs.get(key(tenantId, runId))?.at(-1));
  }
  async subscribe(tenantId: string, runId: string, subscription: RunSubscription) {
    const subs = this.subscriptions.get(key(tenantId, runId)) ?? new Map<string, number>();
    subs.set(subscription.connectionId, subscription.afterSeq);
    this.subscriptions.set(key(tenantId, runId), subs);
  }
  async unsubscribe(tenantId: string, runId: string, connectionId: string) {
    this.subscriptions.get(key(tenantId, runId))?.delete(connectionId);
  }
  async watch(tenantId: string, runId: string): Promise<RunWatch> {
    const run = await this.sessions.getRun(tenantId, runId);
    const subs = this.subscriptions.get(key(tenantId, runId)) ?? new Map<string, number>();
    return {
      status: run?.status,
      subscriptions: [...subs.entries()].map(([connectionId, afterSeq]) => ({ connectionId, afterSeq })),
    };
  }
  async findRequest(tenantId: string, clientRequestId: string) {
    return this.claims.get(`${tenantId}#${clientRequestId}`);
  }
  async claimRequest(tenantId: string, clientRequestId: string, runId: string) {
    const held = this.claims.get(`${tenantId}#${clientRequestId}`);
    if (held) return { claimed: false as const, runId: held };
    this.claims.set(`${tenantId}#${clientRequestId}`, runId);
    return { claimed: true as const };
  }
  async reviveRun(tenantId: string, runId: string, code: string, nowSeconds: number) {
    const run = await this.sessions.getRun(tenantId, runId);
    if (run?.status !== 'failed' || run.error?.code !== code) return false;
    await this.sessions.transitionRun(tenantId, runId, ['failed'], {
      status: 'queued',
      updated_at: nowSeconds,
    });
    this.revived.push(runId);
    return true;
  }
  async discard(tenantId: string, runId: string, clientRequestId?: string) {
    if (clientRequestId !== undefined && this.claims.get(`${tenantId}#${clientRequestId}`) === runId) {
      this.claims.delete(`${tenantId}#${clientRequestId}`);
    }
    this.logs.delete(key(tenantId, runId));
    this.subscriptions.delete(key(tenantId, runId));
  }
}
