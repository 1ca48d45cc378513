// Core: the provider of last resort. No model, no network: deterministic rules for greetings, help and
// what it can do, the `calculator`/`current_time` tools when the request offers them, and otherwise an
// honest "the language model is unavailable". Every answer is marked degraded.
import type { LlmClient } from '../ports/llm-client';
import { evaluateExpression, MAX_EXPRESSION_LENGTH } from '../tools/builtin/expression';
import { completionToDeltas } from './deltas';
import { LlmAbortedError } from './errors';
import { estimatePromptTokens, estimateTextTokens } from './token-estimate';
import type {
  AssistantMessage,
  ChatCompletion,
  ChatDelta,
  ChatMessage,
  ChatRequest,
  FinishReason,
  LlmCallOptions,
  ToolMessage,
} from './types';

export const RULE_BASED_PROVIDER = 'rule-based';
export const RULE_BASED_MODEL = 'rule-based';

export const UNAVAILABLE_ANSWER =
  'The language model is unavailable right now; this is the rule-based fallback. ' +
  'I can only greet you, explain what I can do, do arithmetic and tell the time. Please try again later.';

const GREETING =
  /^\s*(hi|hello|hey|hiya|howdy|greetings|good\s+(morning|afternoon|evening)|bonjour|hallo|hola)\b/i;
const HELP = /\b(help|what can you do|what do you do|capabilit(y|ies)|who are you|what are you)\b/i;
const TIME =
  /\b(what(?:'s| is)? the (current )?(time|date|day)|what time|current (time|date)|time now|today's date|what day)\b/i;
// The lead-in of a question about arithmetic, anywhere in the message ("Hi! What is 2+2?").
const ARITHMETIC_LEAD_IN = /\b(?:what(?:'s| is)|calculate|compute|evaluate|how much is|solve)\b\s*:?\s*/i;
// Operators people write in words, rewritten into the calculator's syntax.
const WORD_OPERATORS: [RegExp, string][] = [
  [/\bplus\b/gi, '+'],
  [/\bminus\b/gi, '-'],
  [/\b(?:times|multiplied by)\b/gi, '*'],
  [/\b(?:divided by|over)\b/gi, '/'],
  [/\bmod(?:ulo)?\b/gi, '%'],
  [/\bto the power of\b/gi, '^'],
  [/\bsquare root of\s+([\d.]+)/gi, 'sqrt($1)'],
  [/(\d)\s*x\s*(?=\d)/g, '$1 * '],
];
// Text after the lead-in longer than this cannot become an expression the calculator accepts (its own limit
// is MAX_EXPRESSION_LENGTH; trimming and word operators change the length only a little), so it is refused
// before any pattern scans it: the work per message stays bounded whatever a client sends.
const MAX_ARITHMETIC_CANDIDATE = 2 * MAX_EXPRESSION_LENGTH;
// An IANA zone as people type it ("Europe/Paris", "America/New_York"), or UTC.
const TIME_ZONE = /\b([A-Z][A-Za-z]+(?:\/[A-Z][A-Za-z_-]+){1,2}|UTC)\b/;

type Answer =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; name: 'calculator' | 'current_time'; arguments: Record<string, unknown> };

const offersTool = (request: ChatRequest, name: string): boolean => {
  if (request.tool_choice === 'none') return false;
  const choice = request.tool_choice;
  if (typeof choice === 'object' && choice.function.name !== name) return false;
  return (request.tools ?? []).some((tool) => tool.function.name === name);
};

const isSpace = (char: string | undefined): boolean => char !== undefined && /\s/.test(char);

/**
 * Drops what people put after a sum: `= ?`, `??`, one final `.` or `!`, and the spaces around them. A loop
 * from the end, not a regex: `/\s*(=\s*)?\?*\s*$/` backtracks cubically on a long run of spaces followed by
 * any other character (4,000 spaces took minutes).
 */
const trimQuestionTail = (text: string): string => {
  let end = text.length;
  const skip = (accept: (char: string | undefined) => boolean) => {
    while (end > 0 && accept(text[end - 1])) end -= 1;
  };
  skip(isSpace);
  skip((char) => char === '?');
  skip(isSpace);
  if (text[end - 1] === '=') {
    end -= 1;
    skip(isSpace);
  }
  if (text[end - 1] === '.' || text[end - 1] === '!') end -= 1;
  return text.slice(0, end).trim();
};

/**
 * The arithmetic in a message: what follows a lead-in like "what is" (or the whole message), with word
 * operators rewritten, if our own parser accepts it. The parser is the judge, so prose never passes.
 */
const findArithmetic = (text: string): string | undefined => {
  const leadIn = ARITHMETIC_LEAD_IN.exec(text);
  let candidate = leadIn ? text.slice(leadIn.index + leadIn[0].length) : text;
  if (candidate.length > MAX_ARITHMETIC_CANDIDATE) return undefined;
  for (const [pattern, replacement] of WORD_OPERATORS) candidate = candidate.replace(pattern, replacement);
  candidate = trimQuestionTail(candidate);
  if (!/\d/.test(candidate) || !/[-+*/%^()×÷]|\b(sqrt|abs|min|max|round|floor|ceil)\b/.test(candidate)) {
    return undefined;
  }
  try {
    evaluateExpression(candidate);
    return candidate;
  } catch (error) {
    // A well-formed expression that fails (1/0) is still arithmetic: the tool reports the error.
    return error instanceof Error && /by zero|negative|too large|not a real/.test(error.message)
      ? candidate
      : undefined;
  }
};

const describeToolOutput = (message: ToolMessage, call: { name: string } | undefined): string => {
  let output: unknown = message.content;
  try {
    output = JSON.parse(message.content);
  } catch {
    // Plain text output: quoted as is.
  }
  if (output && typeof output === 'object') {
    const record = output as Record<string, unknown>;
    if (call?.name === 'calculator' && 'result' in record) return `${record.expression} = ${record.result}`;
    if (call?.name === 'current_time' && typeof record.local === 'string') {
      return `It is ${record.weekday ?? ''} ${record.local} in ${record.timezone}.`.replace('  ', ' ');
    }
    if (typeof record.error === 'string') return `The ${call?.name ?? 'tool'} tool failed: ${record.error}`;
    if (typeof record.error === 'object' && record.error && 'message' in record.error) {
      return `The ${call?.name ?? 'tool'} tool failed: ${String((record.error as { message: unknown }).message)}`;
    }
  }
  return `The ${call?.name ?? 'tool'} tool answered: ${message.content}`;
};

/** When the conversation ends with tool outputs, the answer is those outputs in words. */
const answerFromToolResults = (messages: ChatMessage[]): string | undefined => {
  const results: ToolMessage[] = [];
  let index = messages.length - 1;
  for (; index >= 0 && messages[index]?.role === 'tool'; index -= 1)
    results.unshift(messages[index] as ToolMessage);
  if (results.length === 0) return undefined;
  const assistant = messages[index];
  const calls = assistant?.role === 'assistant' ? (assistant.tool_calls ?? []) : [];
  return results
    .map((result) =>
      describeToolOutput(result, calls.find((call) => call.id === result.tool_call_id)?.function),
    )
    .join('\n');
};

const capabilities = (request: ChatRequest): string => {
  const can = ['greet you', 'explain what I can do'];
  if (offersTool(request, 'calculator')) can.push('do arithmetic with the calculator tool');
  if (offersTool(request, 'current_time')) can.push('tell the time in any time zone');
  return (
    "I'm Tenantic's rule-based assistant, answering while the language model is unavailable. " +
    `I can ${can.join(', ')}. For anything else, please try again once the language model is back.`
  );
};

const decide = (request: ChatRequest): Answer => {
  const fromTools = answerFromToolResults(request.messages);
  if (fromTools !== undefined) return { kind: 'text', text: fromTools };
  const lastUser = [...request.messages].reverse().find((message) => message.role === 'user');
  const text = lastUser?.content ?? '';
  if (offersTool(request, 'calculator')) {
    const expression = findArithmetic(text);
    if (expression !== undefined) return { kind: 'tool', name: 'calculator', arguments: { expression } };
  }
  if (offersTool(request, 'current_time') && TIME.test(text)) {
    const timezone = TIME_ZONE.exec(text)?.[1] ?? 'UTC';
    return { kind: 'tool', name: 'current_time', arguments: { timezone } };
  }
  if (GREETING.test(text)) return { kind: 'text', text: `Hello! ${capabilities(request)}` };
  if (HELP.test(text)) return { kind: 'text', text: capabilities(request) };
  return { kind: 'text', text: UNAVAILABLE_ANSWER };
};

// A stable id from the conversation, so the same request always gets the same answer (replays, tests).
const fingerprint = (request: ChatRequest): string => {
  let hash = 0x811c9dc5;
  for (const char of JSON.stringify(request.messages)) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
};

export interface RuleBasedLlmClientOptions {
  /** Epoch milliseconds, for `created`; injected so answers are reproducible. */
  now?: () => number;
}

/**
 * The rule-based provider: always available, deterministic, and honest about being a fallback
 * (`provider: 'rule-based'`, `degraded: true`). Usage is the documented token estimate.
 *
 * @example
 * const llm = new RuleBasedLlmClient();
 * const answer = await llm.complete({ model: 'any', messages: [{ role: 'user', content: 'hello' }] });
 * answer.degraded; // true
 */
export class RuleBasedLlmClient implements LlmClient {
  private readonly now: () => number;

  constructor(options: RuleBasedLlmClientOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async complete(request: ChatRequest, options: LlmCallOptions = {}): Promise<ChatCompletion> {
    if (options.signal?.aborted) throw new LlmAbortedError(undefined, { provider: RULE_BASED_PROVIDER });
    const answer = decide(request);
    const id = fingerprint(request);
    let message: AssistantMessage;
    let finishReason: FinishReason;
    if (answer.kind === 'text') {
      message = { role: 'assistant', content: answer.text };
      finishReason = 'stop';
    } else {
      message = {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: `call_rb_${id}`,
            type: 'function',
            function: { name: answer.name, arguments: JSON.stringify(answer.arguments) },
          },
        ],
      };
      finishReason = 'tool_calls';
    }
    const completionTokens =
      answer.kind === 'text'
        ? estimateTextTokens(answer.text)
        : estimateTextTokens(answer.name) + estimateTextTokens(JSON.stringify(answer.arguments));
    const promptTokens = estimatePromptTokens(request);
    return {
      id: `chatcmpl-rb-${id}`,
      created: Math.floor(this.now() / 1000),
      provider: RULE_BASED_PROVIDER,
      model: RULE_BASED_MODEL,
      degraded: true,
      message,
      finish_reason: finishReason,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
      usage_estimated: true,
    };
  }

  async *stream(request: ChatRequest, options: LlmCallOptions = {}): AsyncGenerator<ChatDelta> {
    const completion = await this.complete(request, options);
    for (const delta of completionToDeltas(completion)) {
      if (options.signal?.aborted) throw new LlmAbortedError(undefined, { provider: RULE_BASED_PROVIDER });
      yield delta;
    }
  }
}
