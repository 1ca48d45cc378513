// Core: a conservative token estimate, for reserving token budgets before a call and for fitting history
// into a context window. It never needs a tokenizer (no vocabulary in the bundle) and errs on the high side.
//
// How it counts. GPT tokenizers (cl100k, o200k) first cut text into pieces (a word with its leading
// space, a run of 1-3 digits, a run of punctuation with its leading space, whitespace), and BPE merges
// never cross a piece. So every piece costs at least one token, and we charge:
//   - a word:        ceil(ascii letters / 3 + non-ASCII UTF-8 bytes / 2)   (English averages ~4-5 letters
//                    per token; CJK about one token per 3-byte character, rare ones more)
//   - 1-3 digits:    1
//   - punctuation:   ceil(ascii chars / 2 + non-ASCII UTF-8 bytes / 2)    (emoji: 4 bytes, 2 tokens)
//   - whitespace not absorbed by the next word or punctuation: 1 per run
// and per message a fixed overhead (OpenAI documents 3 per message, 1 per name, 3 to prime the reply; we
// charge 4, 1 and 3). English prose comes out about 1.5x the real count; text that merges badly (random
// letters, base64) can exceed it, which is why usage is settled to what the provider reports afterwards.
import type { ChatMessage, ChatRequest, FunctionTool } from './types';

/** Charged for every message: role and framing tokens. */
export const TOKENS_PER_MESSAGE = 4;
/** Charged for a message's `name`, on top of the name's own text. */
const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const TOKENS_PER_REPLY = 3;
/** Each tool call's framing in an assistant message (id, type, name/arguments wrapper). */
const TOKENS_PER_TOOL_CALL = 8;
/** Each function definition's framing, plus once for the tools block itself. */
const TOKENS_PER_TOOL = 10;
const TOKENS_FOR_TOOLS_BLOCK = 16;

// The pre-tokenizer's pieces, close to cl100k's split: contractions, words, 1-3 digits, punctuation runs
// (each with an optional leading space), then whitespace runs.
const PIECE = /'(?:[sdmt]|ll|ve|re)| ?[\p{L}\p{M}]+|\p{N}{1,3}| ?[^\s\p{L}\p{M}\p{N}]+|\s+/gu;
const LETTER_OR_MARK = /^ ?[\p{L}\p{M}]/u;

const utf8Bytes = (codePoint: number): number =>
  codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;

const pieceCost = (piece: string, asciiDivisor: number): number => {
  let ascii = 0;
  let nonAsciiBytes = 0;
  for (const char of piece.startsWith(' ') ? piece.slice(1) : piece) {
    const codePoint = char.codePointAt(0) ?? 0;
    if (codePoint < 0x80) ascii += 1;
    else nonAsciiBytes += utf8Bytes(codePoint);
  }
  return Math.max(1, Math.ceil(ascii / asciiDivisor + nonAsciiBytes / 2));
};

/**
 * Tokens of a bare text, without any message framing.
 *
 * @example
 * estimateTextTokens('tiktoken is great!'); // 7 (cl100k: 6)
 */
export const estimateTextTokens = (text: string): number => {
  let tokens = 0;
  for (const match of text.matchAll(PIECE)) {
    const piece = match[0];
    if (/^\s+$/u.test(piece)) tokens += 1;
    else if (/^\p{N}/u.test(piece)) tokens += 1;
    else if (LETTER_OR_MARK.test(piece) || piece.startsWith("'")) tokens += pieceCost(piece, 3);
    else tokens += pieceCost(piece, 2);
  }
  return tokens;
};

/**
 * A turn estimates the same history messages several times (filling the history, fitting the context,
 * reserving the call): each message object's estimate is kept while the object lives, and only as long
 * as its content is the same (messages are not changed in place, but a changed one is counted again).
 */
const estimated = new WeakMap<ChatMessage, { readonly content: string | null; readonly tokens: number }>();

/** Tokens of one message, framing included. */
export const estimateMessageTokens = (message: ChatMessage): number => {
  const known = estimated.get(message);
  if (known && known.content === message.content) return known.tokens;
  const tokens = countMessageTokens(message);
  estimated.set(message, { content: message.content, tokens });
  return tokens;
};

const countMessageTokens = (message: ChatMessage): number => {
  let tokens = TOKENS_PER_MESSAGE + estimateTextTokens(message.content ?? '');
  if ('name' in message && message.name) tokens += TOKENS_PER_NAME + estimateTextTokens(message.name);
  if (message.role === 'tool') tokens += estimateTextTokens(message.tool_call_id);
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) {
      tokens +=
        TOKENS_PER_TOOL_CALL +
        estimateTextTokens(call.id) +
        estimateTextTokens(call.function.name) +
        estimateTextTokens(call.function.arguments);
    }
  }
  return tokens;
};

/** Tokens the tool definitions add to the prompt (providers render them into the system prompt). */
export const estimateToolsTokens = (tools: readonly FunctionTool[] | undefined): number => {
  if (!tools || tools.length === 0) return 0;
  let tokens = TOKENS_FOR_TOOLS_BLOCK;
  for (const tool of tools) tokens += TOKENS_PER_TOOL + estimateTextTokens(JSON.stringify(tool.function));
  return tokens;
};

/**
 * Prompt tokens of a whole request: messages, tools and the reply's priming. What the quota ledger reserves
 * is this plus `max_tokens`.
 *
 * @example
 * const reserve = estimatePromptTokens(request) + (request.max_tokens ?? modelLimit);
 */
export const estimatePromptTokens = (request: Pick<ChatRequest, 'messages' | 'tools'>): number =>
  request.messages.reduce((sum, message) => sum + estimateMessageTokens(message), TOKENS_PER_REPLY) +
  estimateToolsTokens(request.tools);
