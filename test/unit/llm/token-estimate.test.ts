import { describe, expect, it } from 'vitest';
import {
  estimateMessageTokens,
  estimatePromptTokens,
  estimateTextTokens,
  estimateToolsTokens,
  TOKENS_PER_REPLY,
} from '../../../functions/core/llm/token-estimate';
import type { ChatMessage } from '../../../functions/core/llm/types';
import { createBuiltinToolRegistry } from '../../../functions/core/tools/builtin';

// Counts with OpenAI's cl100k_base tokenizer, as published in OpenAI's cookbook "How to count tokens
// with tiktoken" (the first four) and the tokenizer's well-known pangram count.
const CL100K_SAMPLES: [string, number][] = [
  ['tiktoken is great!', 6],
  ['antidisestablishmentarianism', 6],
  ['2 + 2 = 4', 7],
  ['お誕生日おめでとう', 9],
  ['The quick brown fox jumps over the lazy dog.', 10],
];

const SAMPLES = [
  'Hello, world!',
  'a,b,c,d,e,f',
  'const x = { "a": [1, 2, 3] };\nreturn x.a.map((n) => n * 2);',
  '  indented\n\n\ttabs and   spaces  ',
  'Grüße aus Köln! Ça va? 😀👍',
  '550e8400-e29b-41d4-a716-446655440000',
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.',
];

describe('token estimate', () => {
  it.each(CL100K_SAMPLES)('never underestimates the real count of %j (%i tokens)', (text, real) => {
    expect(estimateTextTokens(text)).toBeGreaterThanOrEqual(real);
  });

  it.each(SAMPLES)('is at least chars/4 (the usual rule of thumb) for %j', (text) => {
    expect(estimateTextTokens(text)).toBeGreaterThanOrEqual(Math.ceil(text.length / 4));
  });

  it('is monotonic: appending text never lowers the estimate', () => {
    const text = SAMPLES.join(' ');
    let previous = 0;
    for (let end = 0; end <= text.length; end += 1) {
      const tokens = estimateTextTokens(text.slice(0, end));
      expect(tokens).toBeGreaterThanOrEqual(previous);
      previous = tokens;
    }
    // Across whole words (what history trimming compares), strictly non-decreasing.
    const words = text.split(' ');
    let last = 0;
    for (let count = 0; count <= words.length; count += 1) {
      const tokens = estimateTextTokens(words.slice(0, count).join(' '));
      expect(tokens).toBeGreaterThanOrEqual(last);
      last = tokens;
    }
  });

  it('charges framing per message, per tool call and for tools', () => {
    const plain: ChatMessage = { role: 'user', content: 'hi' };
    const named: ChatMessage = { role: 'user', content: 'hi', name: 'ann' };
    const withCall: ChatMessage = {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'calculator', arguments: '{"expression":"1+1"}' },
        },
      ],
    };
    const tools = createBuiltinToolRegistry().toLlmTools();

    expect(estimateMessageTokens(named)).toBeGreaterThan(estimateMessageTokens(plain));
    expect(estimateMessageTokens(withCall)).toBeGreaterThan(
      estimateMessageTokens({ role: 'assistant', content: null }),
    );
    expect(estimateToolsTokens(tools)).toBeGreaterThan(estimateToolsTokens(tools.slice(0, 1)));
    expect(estimateToolsTokens([])).toBe(0);
  });

  it('adds messages, tools and the reply priming for a whole prompt', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is 2 + 2?' },
    ];
    const tools = createBuiltinToolRegistry().toLlmTools();

    const total = estimatePromptTokens({ messages, tools });

    expect(total).toBe(
      estimateMessageTokens(messages[0] as ChatMessage) +
        estimateMessageTokens(messages[1] as ChatMessage) +
        estimateToolsTokens(tools) +
        TOKENS_PER_REPLY,
    );
    expect(
      estimatePromptTokens({ messages: [...messages, { role: 'user', content: 'more' }], tools }),
    ).toBeGreaterThan(total);
  });
});
