// Unit: the WebSocket run actions and the streamed worker run over in-memory fakes: what a chat writes
// (and what a refused one does not), dedupe, resume and cancel refusals, the frames of a run with tools,
// a gone or throttled connection, a cancel noticed mid-stream, and a redriven run's concurrent-run slot.
import { describe, expect, it } from 'vitest';
import { cancelRun } from '../../../functions/core/chat/cancel-run';
import { RunNotCancellableError } from '../../../functions/core/chat/errors';
import { runExecuteEnvelope } from '../../../functions/core/chat/run-execute-job';
import { ConnectionThrottledError } from '../../../functions/core/connections/errors';
import type { ServerFrame } from '../../../functions/core/connections/schemas';
import { LlmAbortedError } from '../../../functions/core/llm/errors';
import { estimateTextTokens } from '../../../functions/core/llm/token-estimate';
import type { ChatDelta, ChatRequest, LlmCallOptions } from '../../../functions/core/llm/types';
import { noMetrics } from '../../../functions/core/ports/platform-metrics';
import type { UsageReader } from '../../../functions/core/ports/usage-reader';
import { QuotaExceededError } from '../../../functions/core/quotas/errors';
import { RunNotFoundError } from '../../../functions/core/sessions/errors';
import { acceptChat, cancelRunFrame, resumeRun } from '../../../functions/core/streaming/run-actions';
import { RunPublisher } from '../../../functions/core/streaming/run-publisher';
import { markRunDeadLettered, streamRun } from '../../../functions/core/streaming/stream-run';
import type { TenantRecord } from '../../../functions/core/tenants/schemas';
import { createLogger } from '../../../functions/observability/logger';
import { InMemoryRunStreamStore } from '../../helpers/stream-fakes';
import { chatSetup, slotsHeld, type Turn, tokenCounter } from '../chat/fakes';
import { RecordingNotifier } from '../ws/fakes';

const CONNECTION = 'conn-A=';

const setup = async (turns: Turn[] = [], quotas: Record<string, number | null> = {}) => {
  const chat = await chatSetup(turns, { quotas });
  const streams = new InMemoryRunStreamStore(chat.store);
  const notifier = new RecordingNotifier();
  const usage: UsageReader = {
    readCounters: async () =>
      ({ tokens_per_month: tokenCounter(chat.ledger) }) as Awaited<ReturnType<UsageReader['readCounters']>>,
  };
  const actions = { chat: chat.deps, streams, notifier, usage };
  const context = { tenant: chat.tenant, connectionId: CONNECTION };
  const worker = { chat: chat.deps, streams, notifier, flushIntervalMs: 10 };
  return { ...chat, streams, notifier, actions, context, worker };
};

type RunFrameOf = Extract<ServerFrame, { run_id: string }>;
const runFramesTo = (notifier: RecordingNotifier, connectionId: string) =>
  notifier.posts
    .filter((post) => post.connectionId === connectionId)
    .map((post) => post.frame)
    .filter((frame): frame is RunFrameOf => 'run_id' in frame);
const textOf = (frames: readonly RunFrameOf[]) =>
  frames.map((frame) => (frame.type === 'message.delta' ? frame.text : '')).join('');

describe('acceptChat and the streamed worker run', () => {
  it('answers run.started, queues the run, and the worker streams text equal to the stored answer', async () => {
    const { actions, context, worker, store, jobs, session, tenant, notifier } = await setup([
      { text: 'The answer is 42.' },
    ]);

    const accepted = await acceptChat(actions, context, { session_id: session.id, content: 'Question?' });
    const queued = await store.getRun(tenant.id, accepted.runId);
    const outcome = await streamRun(worker, { tenant, runId: accepted.runId });

    const frames = runFramesTo(notifier, CONNECTION);
    const messages = await store.listMessages(tenant.id, session.id, { limit: 10, order: 'asc' });
    expect(queued?.status).toBe('queued');
    expect(jobs.enqueued.map((job) => job.id)).toEqual([accepted.runId]);
    expect(frames[0]).toMatchObject({ type: 'run.started', seq: 1, status: 'queued' });
    expect(frames.map((frame) => frame.seq)).toEqual(frames.map((_, index) => index + 1));
    expect(frames.slice(-2).map((frame) => frame.type)).toEqual(['message.completed', 'run.completed']);
    expect(outcome.status).toBe('completed');
    expect(textOf(frames)).toBe('The answer is 42.');
    expect(messages.items.map((message) => message.content)).toEqual(['Question?', 'The answer is 42.']);
  });

  it("counts the frames the worker posted for a run (one metric per run) and the run's final status", async () => {
    const { actions, context, worker, session, tenant, notifier } = await setup([{ text: 'Counted.' }]);
    const counted: { name: string; event: unknown }[] = [];
    const metrics = {
      ...noMetrics,
      framesPosted: (event: unknown) => counted.push({ name: 'framesPosted', event }),
      runFinished: (event: unknown) => counted.push({ name: 'runFinished', event }),
    };
    const accepted = await acceptChat(actions, context, { session_id: session.id, content: 'Count?' });
    const postsBefore = notifier.posts.length;

    await streamRun({ ...worker, chat: { ...worker.chat, metrics } }, { tenant, runId: accepted.runId });

    expect(counted).toEqual([
      { name: 'runFinished', event: { tenantId: tenant.id, status: 'completed' } },
      { name: 'framesPosted', event: { tenantId: tenant.id, count: notifier.posts.length - postsBefore } },
    ]);
    expect(notifier.posts.length - postsBefore).toBeGreaterThan(2);
  });

  it('refuses a chat over budget with 429 and writes nothing: no run, no log, no claim, no job', async () => {
    const { actions, context, session, store, tenant, streams, jobs } = await setup([], {
      tokens_per_month: 5,
    });

    const attempt = acceptChat(actions, context, {
      session_id: session.id,
      content: 'Too expensive',
      client_request_id: 'req-1',
    });

    await expect(attempt).rejects.toBeInstanceOf(QuotaExceededError);
    const messages = await store.listMessages(tenant.id, session.id, { limit: 10, order: 'asc' });
    expect(messages.items).toEqual([]);
    expect(streams.logs.size + streams.claims.size + streams.subscriptions.size).toBe(0);
    expect(jobs.enqueued).toEqual([]);
  });

  it('counts a chat refused over budget as a quota refusal of its kind (the client gets an error frame)', async () => {
    const { actions, context, session, tenant } = await setup([], { tokens_per_month: 5 });
    const refusals: unknown[] = [];
    const metrics = { ...noMetrics, quotaRefused: (event: unknown) => refusals.push(event) };

    const attempt = acceptChat({ ...actions, chat: { ...actions.chat, metrics } }, context, {
      session_id: session.id,
      content: 'Too expensive',
    });

    await expect(attempt).rejects.toBeInstanceOf(QuotaExceededError);
    expect(refusals).toEqual([{ tenantId: tenant.id, kind: 'tokens_per_month' }]);
  });

  it('starts one run for a repeated client_request_id and replays it to the repeat', async () => {
    const { actions, context, session, store, tenant, jobs, worker, notifier } = await setup([
      { text: 'Once.' },
    ]);
    const frame = { session_id: session.id, content: 'Hi', client_request_id: 'req-7' };

    const first = await acceptChat(actions, context, frame);
    await streamRun(worker, { tenant, runId: first.runId });
    const second = await acceptChat(actions, { ...context, connectionId: 'conn-B=' }, frame);

    const messages = await store.listMessages(tenant.id, session.id, { limit: 10, order: 'asc' });
    expect(second).toEqual({ runId: first.runId, duplicate: true });
    expect(jobs.enqueued).toHaveLength(1);
    expect(messages.items).toHaveLength(2);
    expect(runFramesTo(notifier, 'conn-B=')).toEqual(runFramesTo(notifier, CONNECTION));
  });

  it('refuses resume and cancel on another tenant’s run with 404, writing no subscription', async () => {
    const { actions, context, session, streams, tenant } = await setup([{ text: 'Mine.' }]);
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Hi' });
    const stranger = { ...context, tenant: { ...tenant, id: 'ten_stranger' } as TenantRecord };

    await expect(resumeRun(actions, stranger, { run_id: runId, after_seq: 0 })).rejects.toBeInstanceOf(
      RunNotFoundError,
    );
    await expect(cancelRunFrame(actions, stranger, { run_id: runId })).rejects.toBeInstanceOf(
      RunNotFoundError,
    );
    expect([...streams.subscriptions.keys()].every((key) => key.startsWith(tenant.id))).toBe(true);
  });

  it('refuses cancel on a finished run with 409 and leaves no subscription behind', async () => {
    const { actions, context, session, streams, tenant, worker } = await setup([{ text: 'Done.' }]);
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Hi' });
    await streamRun(worker, { tenant, runId });

    const attempt = cancelRunFrame(actions, { ...context, connectionId: 'conn-C=' }, { run_id: runId });

    await expect(attempt).rejects.toBeInstanceOf(RunNotCancellableError);
    expect(streams.subscriptions.get(`${tenant.id}#${runId}`)?.has('conn-C=')).toBeFalsy();
  });

  it('sends tool.call and tool.result for a step with tools, before the completed message', async () => {
    const { actions, context, session, tenant, worker, notifier } = await setup([
      { calls: [{ name: 'calculator', arguments: '{"expression":"6*7"}', id: 'call_1' }] },
      { text: 'It is 42.' },
    ]);
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: '6*7?' });

    await streamRun(worker, { tenant, runId });

    const types = runFramesTo(notifier, CONNECTION).map((frame) => frame.type);
    const result = runFramesTo(notifier, CONNECTION).find((frame) => frame.type === 'tool.result');
    expect(types.indexOf('tool.call')).toBeLessThan(types.indexOf('tool.result'));
    expect(types.indexOf('tool.result')).toBeLessThan(types.indexOf('message.completed'));
    expect(result).toMatchObject({ tool_call_id: 'call_1', step: 0 });
    expect(JSON.parse((result as { output: string }).output)).toMatchObject({ result: 42 });
  });

  it('finishes and persists the run when the connection is gone, and stops posting to it', async () => {
    const { actions, context, session, tenant, worker, notifier, store } = await setup([
      { text: 'Nobody hears.' },
    ]);
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Hi' });
    notifier.gone.add(CONNECTION);
    const postsBefore = notifier.posts.length;

    const outcome = await streamRun(worker, { tenant, runId });

    expect(outcome.status).toBe('completed');
    expect((await store.getRun(tenant.id, runId))?.status).toBe('completed');
    expect(notifier.posts.length).toBe(postsBefore);
  });

  it('notices a cancel within a poll interval, aborts the call and ends with run.cancelled', async () => {
    const { actions, context, session, tenant, worker, notifier, store, deps, ledger } = await setup();
    let firstDelta: () => void = () => undefined;
    const streaming = new Promise<void>((resolve) => {
      firstDelta = resolve;
    });
    deps.llm.stream = async function* (
      _request: ChatRequest,
      options?: LlmCallOptions,
    ): AsyncGenerator<ChatDelta> {
      yield { type: 'text', text: 'partial' };
      firstDelta();
      await new Promise((resolve) => options?.signal?.addEventListener('abort', resolve, { once: true }));
      throw new LlmAbortedError();
    };
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Go on' });

    const running = streamRun(worker, { tenant, runId });
    await streaming;
    await cancelRun(deps, tenant.id, runId);
    const outcome = await running;

    const frames = runFramesTo(notifier, CONNECTION);
    expect(outcome.status).toBe('cancelled');
    expect(frames.at(-1)?.type).toBe('run.cancelled');
    expect(textOf(frames)).toBe('partial');
    // What the client saw stays in the session, and what the provider streamed is charged, by estimate,
    // exactly as the cancelled run reports it.
    const run = await store.getRun(tenant.id, runId);
    expect(run?.status).toBe('cancelled');
    expect(run?.steps).toHaveLength(1);
    expect(run?.usage.completion_tokens).toBe(estimateTextTokens('partial'));
    expect(run?.usage.prompt_tokens).toBeGreaterThan(0);
    expect(tokenCounter(ledger)).toEqual({ used: run?.usage.total_tokens, reserved: 0 });
    const history = await store.listMessages(tenant.id, session.id, { limit: 10, order: 'asc' });
    expect(history.items.map((message) => [message.role, message.content])).toEqual([
      ['user', 'Go on'],
      ['assistant', 'partial'],
    ]);
  });

  it('a call cut short by anything but a cancel charges nothing and keeps nothing of it', async () => {
    const { actions, context, session, tenant, worker, store, deps, ledger } = await setup();
    const stop = new AbortController();
    deps.llm.stream = async function* (
      _request: ChatRequest,
      options?: LlmCallOptions,
    ): AsyncGenerator<ChatDelta> {
      yield { type: 'text', text: 'partial' };
      // The function is about to time out: the worker's own signal ends the call.
      stop.abort();
      if (!options?.signal?.aborted) throw new Error('the call was not aborted');
      throw new LlmAbortedError();
    };
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Go on' });

    const failed = await streamRun(worker, { tenant, runId, signal: stop.signal }).catch((error) => error);

    expect(failed).toBeInstanceOf(LlmAbortedError);
    const run = await store.getRun(tenant.id, runId);
    expect(run).toMatchObject({ status: 'in_progress', steps: [] });
    expect(tokenCounter(ledger)).toEqual({ used: 0, reserved: 0 });
    const history = await store.listMessages(tenant.id, session.id, { limit: 10, order: 'asc' });
    expect(history.items.map((message) => message.role)).toEqual(['user']);
  });
});

describe('RunPublisher', () => {
  it('drops a connection whose post the notifier reports still throttled, without retrying on top of it', async () => {
    const { streams, notifier, tenant, actions, context, session } = await setup();
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Hi' });
    let posts = 0;
    notifier.post = async () => {
      posts += 1;
      throw new ConnectionThrottledError('throttled 4 times; giving up');
    };
    const publisher = new RunPublisher({ streams, notifier }, tenant.id, runId, 1);

    await publisher.refresh();
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'a' }]);
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'b' }]);
    await publisher.drain();

    expect(posts).toBe(1);
    expect(publisher.postCount).toBe(1);
    expect(streams.subscriptions.get(`${tenant.id}#${runId}`)?.has(CONNECTION)).toBe(false);
    expect((await streams.readAfter(tenant.id, runId, 1)).map((frame) => frame.seq)).toEqual([2, 3]);
  });

  it('gives a connection that subscribes mid-run what it missed, then the live rest, once and in order', async () => {
    const { streams, notifier, tenant, actions, context, session } = await setup();
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content: 'Hi' });
    const publisher = new RunPublisher({ streams, notifier }, tenant.id, runId, 1);
    await publisher.refresh();
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'one ' }]);
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'two ' }]);

    await streams.subscribe(tenant.id, runId, { connectionId: 'late=', afterSeq: 2 });
    await publisher.refresh();
    await publisher.refresh();
    await publisher.publish([{ type: 'message.delta', step: 0, text: 'three' }]);
    await publisher.drain();

    const late = runFramesTo(notifier, 'late=');
    expect(late.map((frame) => frame.seq)).toEqual([3, 4]);
    expect(textOf(late)).toBe('two three');
  });
});

describe('a dead-lettered run taken up again by a redriven job', () => {
  /** A queued run whose job was dead-lettered: failed, redrivable, its slot given back. */
  const deadLettered = async (fixture: Awaited<ReturnType<typeof setup>>, content: string) => {
    const { actions, context, session, tenant, worker } = fixture;
    const { runId } = await acceptChat(actions, context, { session_id: session.id, content });
    await markRunDeadLettered(() => worker)(
      runExecuteEnvelope(tenant.id, runId, session.id),
      new Error('the store kept failing'),
      { logger: createLogger({}, { sink: () => {} }), messageId: 'm-1', receiveCount: 5 },
    );
    return runId;
  };

  it('runs again only inside concurrent_runs: refused while the slots are taken, completed once one frees', async () => {
    const fixture = await setup([{ text: 'the other run' }, { text: 'back on track' }], {
      concurrent_runs: 1,
    });
    const { actions, context, session, tenant, worker, store, ledger } = fixture;
    const redriven = await deadLettered(fixture, 'first');
    const afterDeadLetter = slotsHeld(ledger);
    const other = await acceptChat(actions, context, { session_id: session.id, content: 'second' });

    const refused = await streamRun(worker, { tenant, runId: redriven }).catch((error: unknown) => error);
    const whileRefused = await store.getRun(tenant.id, redriven);
    const slotsWhileRefused = slotsHeld(ledger);
    const otherOutcome = await streamRun(worker, { tenant, runId: other.runId });
    const retried = await streamRun(worker, { tenant, runId: redriven });

    expect(afterDeadLetter).toBe(0);
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect(refused).toMatchObject({ statusCode: 429, code: 'concurrent_runs_exceeded' });
    expect(whileRefused).toMatchObject({ status: 'failed', error: { code: 'run_dead_lettered' } });
    expect(slotsWhileRefused).toBe(1);
    expect(otherOutcome.status).toBe('completed');
    expect(retried.status).toBe('completed');
    expect((await store.getRun(tenant.id, redriven))?.status).toBe('completed');
    expect(slotsHeld(ledger)).toBe(0);
  });

  it('gives back the slot it took when the run has ended meanwhile (a late duplicate of the redriven job)', async () => {
    const fixture = await setup([{ text: 'answered once' }], { concurrent_runs: 2 });
    const { tenant, worker, store, ledger } = fixture;
    const runId = await deadLettered(fixture, 'only');
    // The duplicate read the run while it was still dead-lettered; the first delivery then ran it to the end.
    const stale = await store.getRun(tenant.id, runId);
    const first = await streamRun(worker, { tenant, runId });
    const slotsAfterFirst = slotsHeld(ledger);

    const duplicate = await streamRun(worker, { tenant, runId, ...(stale && { run: stale }) });

    expect(stale).toMatchObject({ status: 'failed', error: { code: 'run_dead_lettered' } });
    expect(first.status).toBe('completed');
    expect(slotsAfterFirst).toBe(0);
    expect(duplicate.status).toBe('completed');
    expect(slotsHeld(ledger)).toBe(0);
  });
});
