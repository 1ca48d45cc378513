import { describe, expect, it } from 'vitest';
import { collectStream } from '../../../functions/core/llm/deltas';
import { LlmAbortedError } from '../../../functions/core/llm/errors';
import {
  RULE_BASED_PROVIDER,
  RuleBasedLlmClient,
  UNAVAILABLE_ANSWER,
} from '../../../functions/core/llm/rule-based-provider';
import { estimatePromptTokens } from '../../../functions/core/llm/token-estimate';
import type { ChatMessage, ChatRequest } from '../../../functions/core/llm/types';
import { createBuiltinToolRegistry } from '../../../functions/core/tools/builtin';
import { MAX_EXPRESSION_LENGTH } from '../../../functions/core/tools/builtin/expression';
import { drain } from './fakes';

const tools = createBuiltinToolRegistry();
const withTools = (messages: ChatMessage[], names = ['calculator', 'current_time']): ChatRequest => ({
  model: 'gpt-4o-mini',
  messages,
  tools: tools.toLlmTools(names),
});
const user = (content: string): ChatMessage => ({ role: 'user', content });
const llm = new RuleBasedLlmClient({ now: () => Date.UTC(2026, 10, 21, 12) });

describe('RuleBasedLlmClient', () => {
  it('greets, says what it can do, and is marked degraded as the rule-based provider', async () => {
    const answer = await llm.complete(withTools([user('Hello there')]));

    expect(answer).toMatchObject({ provider: RULE_BASED_PROVIDER, degraded: true, finish_reason: 'stop' });
    expect(answer.message.content).toMatch(/^Hello!/);
    expect(answer.message.content).toContain('arithmetic');
    expect(answer.message.content).toContain('time');
  });

  it('only advertises the tools the request offers', async () => {
    const answer = await llm.complete({ model: 'm', messages: [user('what can you do?')] });

    expect(answer.message.content).toContain('rule-based');
    expect(answer.message.content).not.toContain('arithmetic');
  });

  it('says honestly that the language model is unavailable for anything else', async () => {
    const answer = await llm.complete(withTools([user('Write me a sonnet about autumn')]));
    expect(answer.message.content).toBe(UNAVAILABLE_ANSWER);
  });

  it('calls the calculator with proper JSON arguments for arithmetic', async () => {
    const answer = await llm.complete(withTools([user('What is (12.5 + 7.5) * 3?')]));

    expect(answer.finish_reason).toBe('tool_calls');
    const call = answer.message.tool_calls?.[0];
    expect(call?.function.name).toBe('calculator');
    const args = JSON.parse(call?.function.arguments ?? '');
    expect(await tools.invoke('calculator', args, { now: Date.now })).toEqual({
      expression: '(12.5 + 7.5) * 3',
      result: 60,
    });
  });

  it('does not call a tool the request does not offer, or when tool_choice is none', async () => {
    const noCalculator = await llm.complete(withTools([user('calculate 2+2')], ['current_time']));
    const none = await llm.complete({ ...withTools([user('calculate 2+2')]), tool_choice: 'none' });

    expect(noCalculator.message.tool_calls).toBeUndefined();
    expect(none.message.tool_calls).toBeUndefined();
  });

  it('calls current_time with the time zone the user named', async () => {
    const answer = await llm.complete(withTools([user('What time is it in Asia/Tokyo?')]));

    const call = answer.message.tool_calls?.[0];
    expect(call?.function.name).toBe('current_time');
    expect(JSON.parse(call?.function.arguments ?? '')).toEqual({ timezone: 'Asia/Tokyo' });
  });

  it('answers with the result once the tool message comes back', async () => {
    const ask = withTools([user('what is 6*7')]);
    const first = await llm.complete(ask);
    const call = first.message.tool_calls?.[0];
    if (!call) throw new Error('expected a tool call');
    const output = await tools.invoke(call.function.name, call.function.arguments, { now: Date.now });

    const second = await llm.complete({
      ...ask,
      messages: [
        ...ask.messages,
        first.message,
        { role: 'tool', tool_call_id: call.id, content: JSON.stringify(output) },
      ],
    });

    expect(second.finish_reason).toBe('stop');
    expect(second.message.content).toBe('6*7 = 42');
  });

  it('is deterministic: the same request gets the same answer and id', async () => {
    const ask = withTools([user('calculate 1+1')]);
    expect(await llm.complete(ask)).toEqual(await llm.complete(ask));
  });

  it('estimates usage with the documented estimator', async () => {
    const ask = withTools([user('hi')]);
    const answer = await llm.complete(ask);
    expect(answer.usage.prompt_tokens).toBe(estimatePromptTokens(ask));
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens + answer.usage.completion_tokens);
    expect(answer.usage_estimated).toBe(true);
  });

  it('streams the same answer in several deltas, ending with a finish chunk', async () => {
    const ask = withTools([user('help')]);
    const whole = await llm.complete(ask);

    const deltas = await drain(llm.stream(ask));
    const collected = await collectStream(llm.stream(ask), whole.created);

    expect(deltas.filter((d) => d.type === 'text').length).toBeGreaterThan(1);
    expect(deltas.at(-1)).toMatchObject({ type: 'finish', provider: RULE_BASED_PROVIDER, degraded: true });
    expect(collected).toEqual(whole);
  });

  it('streams a tool call as fragments that reassemble to the same call', async () => {
    const ask = withTools([user('compute sqrt(16) + 2^3')]);
    const whole = await llm.complete(ask);
    const collected = await collectStream(llm.stream(ask), whole.created);
    expect(collected.message.tool_calls).toEqual(whole.message.tool_calls);
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(llm.complete(withTools([user('hi')]), { signal: controller.signal })).rejects.toBeInstanceOf(
      LlmAbortedError,
    );
  });
});

describe('RuleBasedLlmClient: finding arithmetic', () => {
  it.each([
    ['Hi! What is 2+2?', '2+2'],
    ['please calculate 3 plus 4 times 2', '3 + 4 * 2'],
    ['how much is 12 x 3', '12 * 3'],
    ['what is 10 divided by 4', '10 / 4'],
    ['7 * 6 =', '7 * 6'],
    ['compute 1/0', '1/0'],
    ['What is 2 + 2 = ?', '2 + 2'],
    ['what is 9 - 3 ??  ', '9 - 3'],
    ['Calculate 6*7.', '6*7'],
    ["What's 5 * 3!  ", '5 * 3'],
    ['what is 8 / 2 =\t?\n', '8 / 2'],
  ])('%j → calculator(%j)', async (question, expression) => {
    const answer = await llm.complete(withTools([user(question)]));
    expect(JSON.parse(answer.message.tool_calls?.[0]?.function.arguments ?? 'null')).toEqual({ expression });
  });

  it.each(['What is the meaning of life?', 'I have 2 cats and 3 dogs', 'what is a - b'])(
    'leaves prose alone: %j',
    async (question) => {
      const answer = await llm.complete(withTools([user(question)]));
      expect(answer.message.tool_calls).toBeUndefined();
    },
  );
});

describe('RuleBasedLlmClient: bounded work on hostile messages', () => {
  it('ignores text after the lead-in longer than twice the calculator limit, even if trimming would shorten it', async () => {
    const padded = `What is 2+2${' '.repeat(2 * MAX_EXPRESSION_LENGTH)}?`;

    const answer = await llm.complete(withTools([user(padded)]));

    expect(answer.message.tool_calls).toBeUndefined();
    expect(answer.message.content).toBe(UNAVAILABLE_ANSWER);
  });

  it('answers the reported message, a long run of spaces before a stray character, without a tool call', async () => {
    // This shape made the old trailing-trim regex backtrack cubically (4,000 spaces took minutes).
    const hostile = `What is 1+${' '.repeat(4_000)}x`;

    const answer = await llm.complete(withTools([user(hostile)]));

    expect(answer.message.content).toBe(UNAVAILABLE_ANSWER);
  });

  it.each([
    ['spaces', ' '],
    ['tabs and newlines', '\t\n'],
    ['spaced question marks', ' ?'],
    ['spaced equals signs', ' ='],
  ])('trims a tail of %s just under the limit and still judges the rest', async (_label, unit) => {
    const room = 2 * MAX_EXPRESSION_LENGTH - '1+'.length - 1;
    const hostile = `What is 1+${unit.repeat(Math.floor(room / unit.length))}x`;

    const answer = await llm.complete(withTools([user(hostile)]));

    expect(answer.message.tool_calls).toBeUndefined();
  });
});
