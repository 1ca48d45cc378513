// Unit: which messages a turn shows the model (the window), when compaction is due and when a turn asks
// for it, and one read per turn however long the session.
import { describe, expect, it } from 'vitest';
import { loadSessionHistory } from '../../../functions/core/chat/model';
import {
  COMPACTION_STALE_SECONDS,
  handledThrough,
  historyBudget,
  selectWindow,
  shouldRequestCompaction,
  summaryMessage,
  toSessionContextResource,
  WINDOW_MESSAGES,
  windowLimit,
} from '../../../functions/core/chat/session-window';
import type { MessageRecord, SessionContextState } from '../../../functions/core/sessions/schemas';
import { InMemorySessionStore } from '../../helpers/session-fakes';

/** Message ids sort in append order: `msg_0000` < `msg_0001` < ... */
const id = (index: number) => `msg_${String(index).padStart(4, '0')}`;

/** `count` messages, newest first (as a turn reads them), each `words` words long. */
const newestFirst = (count: number, words = 3): MessageRecord[] =>
  Array.from({ length: count }, (_, at) => {
    const index = count - 1 - at;
    return {
      id: id(index),
      tenant_id: 'ten_a',
      session_id: 'ses_a',
      role: index % 2 === 0 ? 'user' : 'assistant',
      content: Array.from({ length: words }, () => 'word').join(' '),
      created_at: 0,
    };
  });

const summarized = (through: number): { context: SessionContextState } => ({
  context: {
    strategy: 'summarized',
    summary: 'So far: weather.',
    summarized_through: id(through),
    truncated_through: null,
    updated_at: 1,
  },
});

describe('windowLimit', () => {
  it('is the message cap for any real model, and what the budget could hold for a tiny one', () => {
    expect(windowLimit(128_000)).toBe(WINDOW_MESSAGES);
    expect(windowLimit(16_384)).toBe(WINDOW_MESSAGES);
    // 200 tokens * 0.75 = 150 of history, at 5 tokens a message at the least.
    expect(windowLimit(200)).toBe(30);
    expect(windowLimit(1)).toBe(1);
  });
});

describe('selectWindow', () => {
  it('a short session: everything, oldest first, nothing due', () => {
    const window = selectWindow({}, newestFirst(6), false, 128_000);
    expect(window.messages.map((message) => message.id)).toEqual([0, 1, 2, 3, 4, 5].map(id));
    expect(window.compactBefore).toBeUndefined();
  });

  it('exactly a full window with nothing older: nothing due', () => {
    const window = selectWindow({}, newestFirst(WINDOW_MESSAGES), false, 128_000);
    expect(window.messages).toHaveLength(WINDOW_MESSAGES);
    expect(window.compactBefore).toBeUndefined();
  });

  it('older messages beyond the read, none handled: the newest window, compaction due before its middle', () => {
    const read = newestFirst(300).slice(0, WINDOW_MESSAGES + 1);
    const window = selectWindow({}, read, true, 128_000);
    expect(window.messages).toHaveLength(WINDOW_MESSAGES);
    expect(window.messages.at(-1)?.id).toBe(id(299));
    // The newest half stays verbatim: 299 down to 268; everything before 268 is compacted.
    expect(window.compactBefore).toBe(id(300 - WINDOW_MESSAGES / 2));
  });

  it('a summary covers the older messages: they leave the view, and nothing is due while the rest fits', () => {
    const read = newestFirst(300).slice(0, WINDOW_MESSAGES + 1);
    const window = selectWindow(summarized(269), read, true, 128_000);
    expect(window.messages.map((message) => message.id)).toEqual(
      Array.from({ length: 30 }, (_, at) => id(270 + at)),
    );
    expect(window.compactBefore).toBeUndefined();
  });

  it('the summary fell behind the window: due again', () => {
    const read = newestFirst(300).slice(0, WINDOW_MESSAGES + 1);
    const window = selectWindow(summarized(100), read, true, 128_000);
    expect(window.messages).toHaveLength(WINDOW_MESSAGES);
    expect(window.compactBefore).toBe(id(268));
  });

  it('the token budget cuts before the message cap: due, and the newest message always stays', () => {
    // 100 words a message (about 200 tokens by the estimate); a 2,000-token model's budget is 1,500.
    const read = newestFirst(10, 100);
    const window = selectWindow({}, read, false, 2_000);
    expect(window.messages.length).toBeGreaterThan(0);
    expect(window.messages.length).toBeLessThan(10);
    expect(window.compactBefore).toBeDefined();
    const huge = selectWindow({}, newestFirst(1, 10_000), false, 2_000);
    expect(huge.messages).toHaveLength(1);
    expect(huge.compactBefore).toBeUndefined();
    // Only the newest fits: everything before it is due.
    const hugeTurns = selectWindow({}, newestFirst(3, 10_000), false, 2_000);
    expect(hugeTurns.messages.map((message) => message.id)).toEqual([id(2)]);
    expect(hugeTurns.compactBefore).toBe(id(2));
    expect(historyBudget(2_000)).toBe(1_500);
  });

  it('the edge is the later of the summary and a truncation', () => {
    expect(handledThrough({})).toBeNull();
    expect(handledThrough(summarized(5))).toBe(id(5));
    const truncatedLater = {
      context: { ...summarized(5).context, strategy: 'truncated' as const, truncated_through: id(9) },
    };
    expect(handledThrough(truncatedLater)).toBe(id(9));
  });
});

describe('shouldRequestCompaction', () => {
  const now = 1_800_000_000;
  it('asks when due and nothing is queued', () => {
    expect(shouldRequestCompaction({}, { compactBefore: id(10) }, now)).toBe(true);
  });
  it('not when nothing is due', () => {
    expect(shouldRequestCompaction({}, {}, now)).toBe(false);
  });
  it('not while another request is queued, unless that one went stale', () => {
    const queued = (age: number) => ({
      compaction: { request_id: 'compact:x', before: id(5), requested_at: now - age },
    });
    expect(shouldRequestCompaction(queued(10), { compactBefore: id(10) }, now)).toBe(false);
    expect(
      shouldRequestCompaction(queued(COMPACTION_STALE_SECONDS + 1), { compactBefore: id(10) }, now),
    ).toBe(true);
  });
  it('never behind the edge already handled', () => {
    expect(shouldRequestCompaction(summarized(10), { compactBefore: id(10) }, now)).toBe(false);
    expect(shouldRequestCompaction(summarized(10), { compactBefore: id(11) }, now)).toBe(true);
  });
});

describe('the session resource and the model see what was compacted', () => {
  it('context of a session never compacted, summarized, queued', () => {
    expect(toSessionContextResource({})).toEqual({
      strategy: 'full',
      summarized_through: null,
      truncated_through: null,
      window_messages: WINDOW_MESSAGES,
      compacting: false,
      updated_at: null,
    });
    expect(
      toSessionContextResource({
        ...summarized(7),
        compaction: { request_id: 'compact:y', before: id(9), requested_at: 2 },
      }),
    ).toMatchObject({ strategy: 'summarized', summarized_through: id(7), compacting: true, updated_at: 1 });
    expect(summaryMessage({})).toBeUndefined();
    expect(summaryMessage(summarized(7))).toMatchObject({ role: 'system' });
    expect(String(summaryMessage(summarized(7))?.content)).toContain('So far: weather.');
  });
});

describe('loadSessionHistory reads one bounded window', () => {
  it('asks the store for one window of messages, not the history', async () => {
    const store = new InMemorySessionStore();
    const limits: number[] = [];
    const read = store.readSessionWithHistory.bind(store);
    store.readSessionWithHistory = async (tenantId, sessionId, limit) => {
      limits.push(limit);
      return read(tenantId, sessionId, limit);
    };
    await store.createSession({
      id: 'ses_a',
      tenant_id: 'ten_a',
      title: null,
      model: 'gpt-4o-mini',
      system_prompt: null,
      tools: null,
      metadata: {},
      created_at: 0,
      updated_at: 0,
      last_message_id: null,
    });
    await loadSessionHistory({ store }, 'ten_a', 'ses_a', 128_000);
    await loadSessionHistory({ store }, 'ten_a', 'ses_a', () => 128_000);
    expect(limits).toEqual([WINDOW_MESSAGES, WINDOW_MESSAGES]);
  });
});
