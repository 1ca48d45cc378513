// Session, message and run use cases through the in-memory store: rules, isolation and transitions.
import { describe, expect, it } from 'vitest';
import { loadSessionHistory } from '../../../functions/core/chat/model';
import { WINDOW_MESSAGES } from '../../../functions/core/chat/session-window';
import { idPattern, newId } from '../../../functions/core/ids';
import { encodeCursor } from '../../../functions/core/pagination';
import { appendMessages, MAX_APPEND_MESSAGES } from '../../../functions/core/sessions/append-messages';
import { createRun } from '../../../functions/core/sessions/create-run';
import { createSession } from '../../../functions/core/sessions/create-session';
import { deleteSession } from '../../../functions/core/sessions/delete-session';
import { getRun } from '../../../functions/core/sessions/get-run';
import { getSession } from '../../../functions/core/sessions/get-session';
import { listMessages } from '../../../functions/core/sessions/list-messages';
import { listSessions } from '../../../functions/core/sessions/list-sessions';
import { RUN_TRANSITIONS } from '../../../functions/core/sessions/run-transitions';
import { RUN_STATUSES, type RunStatus } from '../../../functions/core/sessions/schemas';
import { updateRunStatus } from '../../../functions/core/sessions/update-run-status';
import type { TenantRecord } from '../../../functions/core/tenants/schemas';
import { sessionDeps } from '../../helpers/session-fakes';

const tenant = (overrides: Partial<TenantRecord> = {}): TenantRecord => ({
  id: newId('ten', Date.UTC(2026, 0, 1)),
  name: 'Acme',
  plan: 'free',
  quota_overrides: {},
  models: null,
  tools: null,
  status: 'active',
  created_at: 0,
  updated_at: 0,
  ...overrides,
});

describe('createSession', () => {
  it("stores a session on the tenant's default model when none is named, over the stage's", async () => {
    const deps = sessionDeps();
    const acme = tenant({ default_model: 'gpt-4o' });

    const session = await createSession(deps, acme, {});

    expect(deps.settings.defaultModel).not.toBe('gpt-4o');
    expect(session.model).toBe('gpt-4o');
  });

  it("skips a tenant default the tenant may no longer use, for the stage's default", async () => {
    const deps = sessionDeps();
    // The record says gpt-4o, but its models no longer include it (a concurrent PATCH, a stage change).
    const acme = tenant({ default_model: 'gpt-4o', models: ['gpt-4o-mini'] });

    const session = await createSession(deps, acme, {});

    expect(session.model).toBe(deps.settings.defaultModel);
  });

  it("stores a session on the stage's default model when none is named", async () => {
    const deps = sessionDeps();
    const acme = tenant();

    const session = await createSession(deps, acme, { title: 'Support', metadata: { customer: 'c1' } });

    expect(session.id).toMatch(idPattern('ses'));
    expect(session).toMatchObject({
      object: 'session',
      title: 'Support',
      model: deps.settings.defaultModel,
      system_prompt: null,
      tools: null,
      metadata: { customer: 'c1' },
    });
    expect(await getSession(deps, acme.id, session.id)).toEqual(session);
  });

  it("falls back to the tenant's first model when the stage default is not among its models", async () => {
    const deps = sessionDeps();
    const acme = tenant({ models: ['gpt-4o'] });

    const session = await createSession(deps, acme, {});

    expect(session.model).toBe('gpt-4o');
  });

  it('refuses a model the tenant may not use with a 400 naming `model`, writing nothing', async () => {
    const deps = sessionDeps();
    const narrowed = tenant({ models: ['gpt-4o'] });

    for (const model of ['gpt-4o-mini', 'no-such-model']) {
      await expect(createSession(deps, narrowed, { model })).rejects.toMatchObject({
        statusCode: 400,
        code: 'model_not_allowed',
        param: 'model',
      });
    }
    expect(deps.store.sessions.size).toBe(0);
  });

  it('refuses a tool the tenant may not use, naming its index, writing nothing', async () => {
    const deps = sessionDeps();

    await expect(
      createSession(deps, tenant(), { tools: ['calculator', 'shell_exec'] }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'tool_not_allowed', param: 'tools[1]' });
    await expect(
      createSession(deps, tenant({ tools: ['current_time'] }), { tools: ['calculator'] }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'tools[0]' });
    expect(deps.store.sessions.size).toBe(0);
  });

  it("accepts the tenant's own tools over the stage defaults", async () => {
    const deps = sessionDeps();

    const session = await createSession(deps, tenant({ tools: ['lookup_order'] }), {
      tools: ['lookup_order'],
    });

    expect(session.tools).toEqual(['lookup_order']);
  });
});

describe('tenant isolation', () => {
  it("another tenant's session, messages and runs are not found", async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const other = tenant({ id: newId('ten', Date.UTC(2026, 0, 2)) });
    const session = await createSession(deps, acme, {});
    const run = await createRun(deps, acme.id, session.id);

    await expect(getSession(deps, other.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(listMessages(deps, other.id, session.id, { limit: 10, order: 'asc' })).rejects.toMatchObject(
      {
        statusCode: 404,
      },
    );
    await expect(deleteSession(deps, other.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(getRun(deps, other.id, run.id)).rejects.toMatchObject({
      statusCode: 404,
      code: 'run_not_found',
    });
    expect((await listSessions(deps, other.id, { limit: 10, order: 'desc' })).data).toEqual([]);
    expect(await getSession(deps, acme.id, session.id)).toMatchObject({ id: session.id });
  });
});

describe('listSessions', () => {
  it('walks newest first by default and oldest first on request, each session once', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const created: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      created.push((await createSession(deps, acme, { title: `s${i}` })).id);
      deps.clock.advance(1000);
    }

    const walk = async (order: 'asc' | 'desc') => {
      const seen: string[] = [];
      let after: string | undefined;
      do {
        const page = await listSessions(deps, acme.id, { limit: 3, order, ...(after && { after }) });
        seen.push(...page.data.map((session) => session.id));
        after = page.next_cursor;
      } while (after);
      return seen;
    };

    expect(await walk('desc')).toEqual([...created].reverse());
    expect(await walk('asc')).toEqual(created);
  });

  it('refuses a tampered cursor with 400 invalid_cursor', async () => {
    const deps = sessionDeps();

    for (const after of ['not-a-cursor!', encodeCursor('ten_not_a_session'), 'eyJ2IjoyfQ']) {
      await expect(listSessions(deps, tenant().id, { limit: 3, order: 'desc', after })).rejects.toMatchObject(
        {
          statusCode: 400,
          code: 'invalid_cursor',
          param: 'after',
        },
      );
    }
  });
});

describe('appendMessages and listMessages', () => {
  it('keeps the append order, even within one millisecond, and pages both ways', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    for (let i = 0; i < 5; i += 1) {
      // The clock does not move: ids must still sort in append order.
      await appendMessages(deps, acme.id, session.id, {
        append_id: `turn-${i}`,
        messages: [
          { role: 'user', content: `question ${i}` },
          { role: 'assistant', content: `answer ${i}` },
        ],
      });
    }
    const contents = (await listMessages(deps, acme.id, session.id, { limit: 100, order: 'asc' })).data.map(
      (message) => message.content,
    );

    expect(contents).toEqual(Array.from({ length: 5 }, (_, i) => [`question ${i}`, `answer ${i}`]).flat());
    const first = await listMessages(deps, acme.id, session.id, { limit: 4, order: 'desc' });
    expect(first.data.map((message) => message.content)).toEqual([...contents].reverse().slice(0, 4));
    expect(first.has_more).toBe(true);
  });

  it('a repeated append id returns the first messages and appends nothing', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const input = { append_id: 'run_x:step-1', messages: [{ role: 'assistant' as const, content: 'Hi' }] };

    const first = await appendMessages(deps, acme.id, session.id, input);
    deps.clock.advance(5000);
    const again = await appendMessages(deps, acme.id, session.id, input);

    expect(first.replayed).toBe(false);
    expect(again).toEqual({ messages: first.messages, replayed: true });
    expect((await listMessages(deps, acme.id, session.id, { limit: 10, order: 'asc' })).data).toHaveLength(1);
  });

  it('stores tool calls and tool results', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const call = {
      id: 'call_1',
      type: 'function' as const,
      function: { name: 'calculator', arguments: '{"expression":"2+2"}' },
    };

    await appendMessages(deps, acme.id, session.id, {
      append_id: 'a',
      messages: [
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', content: '4', tool_call_id: 'call_1' },
      ],
    });
    const { data } = await listMessages(deps, acme.id, session.id, { limit: 10, order: 'asc' });

    expect(data[0]).toMatchObject({ role: 'assistant', content: null, tool_calls: [call] });
    expect(data[1]).toMatchObject({ role: 'tool', content: '4', tool_call_id: 'call_1' });
  });

  it('refuses empty, oversized and malformed appends without writing', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const bad = [
      { append_id: 'a', messages: [] },
      {
        append_id: 'a',
        messages: Array.from({ length: MAX_APPEND_MESSAGES + 1 }, () => ({
          role: 'user' as const,
          content: 'x',
        })),
      },
      { append_id: '', messages: [{ role: 'user' as const, content: 'x' }] },
      { append_id: 'a', messages: [{ role: 'assistant' as const, content: null }] },
      { append_id: 'a', messages: [{ role: 'tool' as const, content: '4' }] },
    ];

    for (const input of bad) {
      await expect(appendMessages(deps, acme.id, session.id, input)).rejects.toMatchObject({
        statusCode: 400,
      });
    }
    expect(deps.store.messages.get(`${acme.id}/${session.id}`)).toEqual([]);
  });

  it('appending to an unknown session is a 404', async () => {
    const deps = sessionDeps();

    await expect(
      appendMessages(deps, tenant().id, newId('ses', 0), {
        append_id: 'a',
        messages: [{ role: 'user', content: 'hello' }],
      }),
    ).rejects.toMatchObject({ statusCode: 404, code: 'session_not_found' });
  });

  it('retries when another append got in between, and keeps both in order', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const realGet = deps.store.getSession.bind(deps.store);
    let interfered = false;
    // Between this append's read and its write, another writer appends.
    deps.store.getSession = async (tenantId, sessionId) => {
      const read = await realGet(tenantId, sessionId);
      if (!interfered) {
        interfered = true;
        await appendMessages(deps, tenantId, sessionId, {
          append_id: 'other',
          messages: [{ role: 'user', content: 'first' }],
        });
      }
      return read;
    };

    await appendMessages(deps, acme.id, session.id, {
      append_id: 'mine',
      messages: [{ role: 'assistant', content: 'second' }],
    });
    const { data } = await listMessages(deps, acme.id, session.id, { limit: 10, order: 'asc' });

    expect(data.map((message) => message.content)).toEqual(['first', 'second']);
  });
});

describe('deleteSession', () => {
  it('removes the session, its messages and runs; a second delete is a 404', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const keep = await createSession(deps, acme, {});
    await appendMessages(deps, acme.id, session.id, {
      append_id: 'a',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const run = await createRun(deps, acme.id, session.id);

    const deleted = await deleteSession(deps, acme.id, session.id);

    expect(deleted).toEqual({ id: session.id, object: 'session.deleted', deleted: true });
    await expect(getSession(deps, acme.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(getRun(deps, acme.id, run.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(deleteSession(deps, acme.id, session.id)).rejects.toMatchObject({ statusCode: 404 });
    expect((await listSessions(deps, acme.id, { limit: 10, order: 'asc' })).data.map((s) => s.id)).toEqual([
      keep.id,
    ]);
  });
});

describe('runs', () => {
  it('starts queued on the session model, then moves along the allowed transitions', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, { model: 'gpt-4o' });
    const run = await createRun(deps, acme.id, session.id);
    const step = {
      index: 0,
      type: 'message_creation' as const,
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      created_at: 1,
    };

    const started = await updateRunStatus(deps, acme.id, run.id, { status: 'in_progress' });
    deps.clock.advance(60_000);
    const restarted = await updateRunStatus(deps, acme.id, run.id, { status: 'in_progress' });
    const completed = await updateRunStatus(deps, acme.id, run.id, {
      status: 'completed',
      steps: [step, { ...step, index: 1 }],
    });

    expect(run).toMatchObject({
      object: 'run',
      status: 'queued',
      model: 'gpt-4o',
      steps: [],
      started_at: null,
    });
    expect(started.started_at).toEqual(expect.any(Number));
    expect(restarted.started_at).toBe(started.started_at);
    expect(completed).toMatchObject({
      status: 'completed',
      usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 },
    });
    expect(completed.completed_at).toBeGreaterThan(started.started_at as number);
    expect(await getRun(deps, acme.id, run.id)).toEqual(completed);
  });

  it('a run never completes twice, and a final state has no way out', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const run = await createRun(deps, acme.id, session.id);
    await updateRunStatus(deps, acme.id, run.id, { status: 'in_progress' });
    await updateRunStatus(deps, acme.id, run.id, { status: 'completed' });

    for (const status of RUN_STATUSES) {
      await expect(updateRunStatus(deps, acme.id, run.id, { status })).rejects.toMatchObject({
        statusCode: 409,
        code: 'run_state_conflict',
        current: 'completed',
        wanted: status,
      });
    }
  });

  it('completing straight from queued is refused; failing records the error', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    const run = await createRun(deps, acme.id, session.id);
    const error = { type: 'upstream_error', code: 'llm_unavailable', message: 'down', param: null };

    await expect(updateRunStatus(deps, acme.id, run.id, { status: 'completed' })).rejects.toMatchObject({
      statusCode: 409,
      current: 'queued',
    });
    const failed = await updateRunStatus(deps, acme.id, run.id, { status: 'failed', error });

    expect(failed).toMatchObject({ status: 'failed', error });
  });

  it('the transition table is closed: every target from every source either moves or conflicts', async () => {
    const deps = sessionDeps();
    const acme = tenant();
    const session = await createSession(deps, acme, {});
    for (const from of RUN_STATUSES) {
      for (const to of RUN_STATUSES) {
        const run = await createRun(deps, acme.id, session.id);
        // Put the run in `from` directly through the store, as a worker would have left it.
        await deps.store.transitionRun(acme.id, run.id, ['queued'], {
          status: from as RunStatus,
          updated_at: 1,
        });

        const outcome = await updateRunStatus(deps, acme.id, run.id, { status: to }).then(
          (moved) => moved.status,
          (error: { statusCode: number }) => error.statusCode,
        );

        expect(outcome, `${from} -> ${to}`).toBe(RUN_TRANSITIONS[to].includes(from) ? to : 409);
      }
    }
  });

  it('creating a run on an unknown session is a 404 and an unknown run is a 404', async () => {
    const deps = sessionDeps();

    await expect(createRun(deps, tenant().id, newId('ses', 0))).rejects.toMatchObject({ statusCode: 404 });
    await expect(getRun(deps, tenant().id, newId('run', 0))).rejects.toMatchObject({ statusCode: 404 });
    await expect(
      updateRunStatus(deps, tenant().id, newId('run', 0), { status: 'in_progress' }),
    ).rejects.toMatchObject({ statusCode: 404 });
  });
});

/** A session of `turns` question-and-answer pairs, with the store's call log cleared. */
const sessionWithTurns = async (turns: number) => {
  const deps = sessionDeps();
  const acme = tenant();
  const session = await createSession(deps, acme, {});
  for (let turn = 0; turn < turns; turn += 1) {
    await appendMessages(deps, acme.id, session.id, {
      append_id: `turn-${turn}`,
      messages: [
        { role: 'user', content: `question ${turn}` },
        { role: 'assistant', content: `answer ${turn}` },
      ],
    });
  }
  deps.store.calls.length = 0;
  return { deps, acme, session };
};

describe('loadSessionHistory', () => {
  it('reads the session and its newest window in one read, however long the session', async () => {
    const turns = 130;
    const { deps, acme, session } = await sessionWithTurns(turns);

    const found = await loadSessionHistory(deps, acme.id, session.id, 1_000_000);

    expect(found?.history).toHaveLength(WINDOW_MESSAGES);
    const oldestKept = turns - WINDOW_MESSAGES / 2;
    expect(found?.history[0]).toMatchObject({ role: 'user', content: `question ${oldestKept}` });
    expect(found?.history.at(-1)).toMatchObject({ role: 'assistant', content: `answer ${turns - 1}` });
    expect(deps.store.calls).toEqual(['readSessionWithHistory']);
    // Older turns fell out unsummarized: compaction is due, keeping the newest half verbatim.
    expect(found?.compactBefore).toBeDefined();
  });

  it('a short session is read whole, and nothing is due', async () => {
    const { deps, acme, session } = await sessionWithTurns(3);

    const found = await loadSessionHistory(deps, acme.id, session.id, 128_000);

    expect(found?.history).toHaveLength(6);
    expect(found?.compactBefore).toBeUndefined();
    expect(deps.store.calls).toEqual(['readSessionWithHistory']);
  });
});
