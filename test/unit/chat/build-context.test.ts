// Unit: the context an LLM call sees: newest turns kept within the budget, tool calls never split from
// their results, and a newest turn that cannot fit refused as a 400.
import { describe, expect, it } from 'vitest';
import { buildContext } from '../../../functions/core/chat/build-context';
import { LlmContextTooLongError } from '../../../functions/core/llm/errors';
import { estimateMessageTokens, TOKENS_PER_REPLY } from '../../../functions/core/llm/token-estimate';
import type { ChatMessage } from '../../../functions/core/llm/types';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const cost = (messages: ChatMessage[]) =>
  messages.reduce((sum, message) => sum + estimateMessageTokens(message), 0);
const system: ChatMessage = { role: 'system', content: 'You are terse.' };

describe('buildContext', () => {
  it('keeps the system prompt and the newest turns that fit, dropping the oldest', () => {
    const history = Array.from({ length: 10 }, (_, turn) => [
      user(`question ${turn} ${'lorem ipsum '.repeat(20)}`),
      assistant(`answer ${turn} ${'dolor sit amet '.repeat(20)}`),
    ]).flat();
    const lastFour = history.slice(-4);
    const contextTokens = TOKENS_PER_REPLY + cost([system]) + cost(lastFour) + 100 + 5;

    const built = buildContext({ systemPrompt: system.content, history, contextTokens, maxTokens: 100 });

    expect(built.messages[0]).toEqual(system);
    expect(built.messages.slice(1)).toEqual(lastFour);
    expect(built.dropped).toBe(history.length - 4);
    expect(built.promptTokens + 100).toBeLessThanOrEqual(contextTokens);
  });

  it('never keeps a tool call without its results, nor results without their call', () => {
    const call: ChatMessage = {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_a',
          type: 'function',
          function: { name: 'calculator', arguments: '{"expression":"1+1"}' },
        },
        { id: 'call_b', type: 'function', function: { name: 'current_time', arguments: '{}' } },
      ],
    };
    const results: ChatMessage[] = [
      { role: 'tool', content: '{"result":2}', tool_call_id: 'call_a' },
      { role: 'tool', content: '{"local":"10:00"}', tool_call_id: 'call_b' },
    ];
    const newest = user('and now?');
    const history = [user('what is 1+1 and the time?'), call, ...results, newest];
    // Room for the newest turn and one tool result, but not for the whole call with both results.
    const contextTokens = TOKENS_PER_REPLY + cost([newest]) + cost([results[1] as ChatMessage]) + 10;

    const built = buildContext({ systemPrompt: null, history, contextTokens, maxTokens: 10 });

    expect(built.messages).toEqual([newest]);
  });

  it('keeps a tool call with all its results when they fit, and leaves out an unanswered call', () => {
    const answered: ChatMessage[] = [
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'calculator', arguments: '{}' } }],
      },
      { role: 'tool', content: '2', tool_call_id: 'c1' },
    ];
    const unanswered: ChatMessage = {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c2', type: 'function', function: { name: 'calculator', arguments: '{}' } }],
    };
    const orphan: ChatMessage = { role: 'tool', content: 'stray', tool_call_id: 'c9' };
    const history = [orphan, user('q'), ...answered, unanswered, user('next')];

    const built = buildContext({ systemPrompt: null, history, contextTokens: 10_000, maxTokens: 100 });

    expect(built.messages).toEqual([user('q'), ...answered, user('next')]);
  });

  it('refuses with context_length_exceeded when the newest turn alone cannot fit', () => {
    const history = [user('word '.repeat(500))];

    const act = () => buildContext({ systemPrompt: null, history, contextTokens: 200, maxTokens: 100 });

    expect(act).toThrow(LlmContextTooLongError);
  });
});
