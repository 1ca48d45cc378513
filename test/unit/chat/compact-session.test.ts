// Unit: compaction of a long session through in-memory fakes: a turn asks once (fenced), the job summarizes
// with the session's model and charges the tenant, marks truncated when only the rule-based provider
// answers or the tokens are spent, never moves the edge backward, and ignores a superseded request.
import { describe, expect, it } from 'vitest';
import {
  COMPACT_READ_MESSAGES,
  compactionRequestId,
  compactSession,
  requestCompactionIfDue,
  summaryRequestMessages,
} from '../../../functions/core/chat/compact-session';
import { sendMessage } from '../../../functions/core/chat/send-message';
import { RuleBasedLlmClient } from '../../../functions/core/llm/rule-based-provider';
import { appendMessages } from '../../../functions/core/sessions/append-messages';
import { chatSetup, tokenCounter } from './fakes';

type Setup = Awaited<ReturnType<typeof chatSetup>>;

/** `count` messages, user and assistant in turn; returns their ids in append order. */
const seed = async ({ deps, tenant, session }: Setup, count: number): Promise<string[]> => {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const { messages } = await appendMessages(deps, tenant.id, session.id, {
      append_id: `seed-${start}`,
      messages: Array.from({ length: Math.min(50, count - start) }, (_, at) =>
        (start + at) % 2 === 0
          ? { role: 'user' as const, content: `question ${start + at}` }
          : { role: 'assistant' as const, content: `answer ${start + at}` },
      ),
    });
    ids.push(...messages.map((message) => message.id));
  }
  return ids;
};

describe('a turn of a long session asks for compaction once', () => {
  it('the first turn past the window queues one job; the next finds the fence', async () => {
    const setup = await chatSetup([{ text: 'one' }, { text: 'two' }]);
    await seed(setup, 200);

    await sendMessage(setup.deps, setup.tenant, setup.session.id, { content: 'next?' });
    await sendMessage(setup.deps, setup.tenant, setup.session.id, { content: 'and then?' });

    const compactions = setup.jobs.enqueued.filter((job) => job.type === 'session.compact');
    expect(compactions).toHaveLength(1);
    expect((await setup.store.getSession(setup.tenant.id, setup.session.id))?.compaction?.request_id).toBe(
      compactions[0]?.id,
    );
  });

  it('a queue failure lifts the fence again, so a later turn may ask', async () => {
    const setup = await chatSetup();
    const ids = await seed(setup, 10);
    const session = await setup.store.getSession(setup.tenant.id, setup.session.id);
    if (!session) throw new Error('no session');
    const failing = { ...setup.deps, jobs: { enqueue: async () => Promise.reject(new Error('queue down')) } };

    await expect(requestCompactionIfDue(failing, setup.tenant.id, session, ids[5])).rejects.toThrow(
      'queue down',
    );

    expect((await setup.store.getSession(setup.tenant.id, setup.session.id))?.compaction).toBeUndefined();
  });
});

describe('compactSession', () => {
  const fenced = async (setup: Setup, count: number, beforeIndex: number) => {
    const ids = await seed(setup, count);
    const before = ids[beforeIndex] as string;
    const session = await setup.store.getSession(setup.tenant.id, setup.session.id);
    if (!session) throw new Error('no session');
    expect(await requestCompactionIfDue(setup.deps, setup.tenant.id, session, before)).toBe(true);
    return { ids, before };
  };

  it("summarizes the messages before the edge with the session's model, charged like a turn", async () => {
    const setup = await chatSetup([{ text: 'They talked about questions 0 to 59.' }]);
    const { ids, before } = await fenced(setup, 100, 60);

    const outcome = await compactSession(setup.deps, setup.tenant, setup.session.id, before);

    expect(outcome).toEqual({ status: 'summarized', through: ids[59], stored: true });
    const session = await setup.store.getSession(setup.tenant.id, setup.session.id);
    expect(session?.context).toMatchObject({
      strategy: 'summarized',
      summary: 'They talked about questions 0 to 59.',
      summarized_through: ids[59],
    });
    expect(session?.compaction).toBeUndefined();
    const [request] = setup.llm.requests;
    expect(request?.model).toBe('gpt-4o-mini');
    expect(String(request?.messages[1]?.content)).toContain('question 0');
    expect(String(request?.messages[1]?.content)).not.toContain('question 60');
    expect(tokenCounter(setup.ledger)).toEqual({ used: 42, reserved: 0 });
  });

  it('offline (the rule-based provider answers): truncated, the summary so far kept, nothing charged', async () => {
    const setup = await chatSetup([{ text: 'Hello! I am a rule-based assistant.', degraded: true }]);
    const { ids, before } = await fenced(setup, 100, 60);

    const outcome = await compactSession(setup.deps, setup.tenant, setup.session.id, before);

    expect(outcome).toEqual({ status: 'truncated', through: ids[59], stored: true });
    expect((await setup.store.getSession(setup.tenant.id, setup.session.id))?.context).toMatchObject({
      strategy: 'truncated',
      summary: null,
      summarized_through: null,
      truncated_through: ids[59],
    });
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
  });

  it('with the real rule-based provider answering: truncated, nothing charged', async () => {
    const setup = await chatSetup([]);
    const { ids, before } = await fenced(setup, 100, 60);
    const offline = { ...setup.deps, llm: new RuleBasedLlmClient() };

    const outcome = await compactSession(offline, setup.tenant, setup.session.id, before);

    expect(outcome).toEqual({ status: 'truncated', through: ids[59], stored: true });
    expect(tokenCounter(setup.ledger)).toEqual({ used: 0, reserved: 0 });
  });

  it("the tenant's tokens are spent: truncated instead, nothing charged", async () => {
    const setup = await chatSetup([{ text: 'never asked' }], { quotas: { tokens_per_month: 10 } });
    const { before } = await fenced(setup, 100, 60);

    const outcome = await compactSession(setup.deps, setup.tenant, setup.session.id, before);

    expect(outcome).toMatchObject({ status: 'truncated', stored: true });
    expect(setup.llm.requests).toHaveLength(0);
  });

  it('a request that no longer holds the fence does nothing', async () => {
    const setup = await chatSetup([]);
    const { ids } = await fenced(setup, 100, 60);

    const outcome = await compactSession(setup.deps, setup.tenant, setup.session.id, ids[40] as string);

    expect(outcome).toEqual({ status: 'superseded' });
    expect(setup.llm.requests).toHaveLength(0);
    expect((await setup.store.getSession(setup.tenant.id, setup.session.id))?.compaction?.request_id).toBe(
      compactionRequestId(ids[60] as string),
    );
  });

  it('never moves the edge backward: a later summary stays', async () => {
    const setup = await chatSetup([{ text: 'up to 59' }, { text: 'up to 29' }]);
    const { ids, before } = await fenced(setup, 100, 60);
    await compactSession(setup.deps, setup.tenant, setup.session.id, before);
    // A stale request for an older edge (say, a redelivered job) gets the fence back...
    await setup.store.requestCompaction(
      setup.tenant.id,
      setup.session.id,
      { request_id: compactionRequestId(ids[30] as string), before: ids[30] as string, requested_at: 0 },
      Number.MAX_SAFE_INTEGER,
    );

    const outcome = await compactSession(setup.deps, setup.tenant, setup.session.id, ids[30] as string);

    // ...but everything before it is handled already: nothing to summarize, and the summary stays.
    expect(outcome).toEqual({ status: 'nothing' });
    expect((await setup.store.getSession(setup.tenant.id, setup.session.id))?.context).toMatchObject({
      summary: 'up to 59',
      summarized_through: ids[59],
    });
  });

  it('reads at most two windows back from the edge, newest kept when the model cannot take all', () => {
    expect(COMPACT_READ_MESSAGES).toBeGreaterThan(0);
    const messages = Array.from({ length: 20 }, (_, index) => ({
      id: `msg_${index}`,
      tenant_id: 't',
      session_id: 's',
      role: 'user' as const,
      content: `message ${19 - index} ${'x'.repeat(400)}`,
      created_at: 0,
    }));
    const [, transcript] = summaryRequestMessages('earlier', messages, 1_500);
    expect(String(transcript?.content)).toContain('message 19');
    expect(String(transcript?.content)).not.toContain('message 0 ');
    expect(String(transcript?.content)).toContain('Summary so far:\nearlier');
  });
});
