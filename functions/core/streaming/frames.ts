// Core: the run frames of shared/API.md (server → client, each with `run_id` and a per-run `seq`), and
// how text and oversized payloads are made to fit the 32 KB WebSocket frame limit.
import { z } from 'zod';
import { ERROR_TYPES } from '../errors';
import { MessageResource, RunStatusSchema, UsageSchema } from '../sessions/schemas';

const step = z.number().int().nonnegative();

/** A frame's body, told apart by `type`. Parsed when a frame is read back from the run's log. */
const RunFrameBodySchema = z.discriminatedUnion('type', [
  /**
   * `step`: the step the run (re)starts at. Sent again when a worker takes the run up after a failure: the
   * text a client holds for that step and later ones is streamed again, so it drops it.
   */
  z.object({ type: z.literal('run.started'), session_id: z.string(), status: RunStatusSchema, step }),
  /** `step`: the agent-loop step the text belongs to (a step that ends in tool calls may say something first). */
  z.object({ type: z.literal('message.delta'), step, text: z.string() }),
  z.object({
    type: z.literal('tool.call'),
    step,
    tool_call: z.object({ id: z.string(), name: z.string(), arguments: z.string() }),
    /** The arguments were cut to fit the frame; the stored message has them whole. */
    truncated: z.literal(true).optional(),
  }),
  z.object({
    type: z.literal('tool.result'),
    step,
    tool_call_id: z.string(),
    output: z.string(),
    truncated: z.literal(true).optional(),
  }),
  /** `message.content` is null with `content_omitted` when it cannot fit one frame: the deltas carry it. */
  z.object({
    type: z.literal('message.completed'),
    message: MessageResource,
    content_omitted: z.literal(true).optional(),
  }),
  z.object({ type: z.literal('run.completed'), usage: UsageSchema }),
  z.object({
    type: z.literal('run.failed'),
    error: z.object({
      type: z.enum(ERROR_TYPES),
      code: z.string(),
      message: z.string(),
      param: z.string().nullable(),
    }),
  }),
  z.object({ type: z.literal('run.cancelled') }),
]);
export type RunFrameBody = z.infer<typeof RunFrameBodySchema>;

export type RunFrameType = RunFrameBody['type'];

/** A frame as logged and sent: the body plus the run it belongs to and its place in the run's stream. */
export const RunFrameSchema = RunFrameBodySchema.and(
  z.object({ run_id: z.string().min(1), seq: z.number().int().positive() }),
);
export type RunFrame = z.infer<typeof RunFrameSchema>;

const TERMINAL: ReadonlySet<RunFrameType> = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/** True for the frames that end a run's stream (until an operator redrives a dead-lettered run). */
export const isTerminalFrame = (frame: { type: string } | undefined): boolean =>
  frame !== undefined && TERMINAL.has(frame.type as RunFrameType);

/**
 * The most text bytes one delta carries, JSON-escaped: the 32 KB frame limit minus room for the
 * envelope (`type`, `run_id`, `seq`, `step`), which never needs 512 bytes.
 */
export const MAX_DELTA_TEXT_BYTES = 32 * 1024 - 512;

/** What a character costs inside a JSON string, in UTF-8 bytes. */
const jsonCost = (char: string): number => {
  const code = char.codePointAt(0) ?? 0;
  if (char === '"' || char === '\\') return 2;
  if (code < 0x20)
    return char === '\n' || char === '\r' || char === '\t' || char === '\b' || char === '\f' ? 2 : 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code < 0x10000) return 3;
  return 4;
};

/** UTF-8 bytes of `text` once JSON-escaped (without the quotes). */
export const jsonTextBytes = (text: string): number => {
  let bytes = 0;
  for (const char of text) bytes += jsonCost(char);
  return bytes;
};

/**
 * Splits text into pieces whose JSON-escaped size is at most `maxBytes`, never inside a code point.
 *
 * @example
 * splitText('a'.repeat(70_000)).length; // 3
 */
export const splitText = (text: string, maxBytes: number = MAX_DELTA_TEXT_BYTES): string[] => {
  if (jsonTextBytes(text) <= maxBytes) return text === '' ? [] : [text];
  const pieces: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const char of text) {
    const cost = jsonCost(char);
    if (bytes + cost > maxBytes) {
      pieces.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += char;
    bytes += cost;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
};

/** The longest prefix of `text` that fits `maxBytes` escaped. */
const cut = (text: string, maxBytes: number): string => splitText(text, maxBytes)[0] ?? '';

/**
 * A frame body that fits the frame limit: tool arguments and outputs are cut (`truncated: true`), and a
 * completed message too long for one frame loses its content (`content_omitted`: the deltas carried it).
 * Deltas are split beforehand by the coalescer, so they always fit.
 *
 * @example
 * fitFrameBody({ type: 'tool.result', step: 0, tool_call_id: 'call_1', output: hugeJson });
 */
export const fitFrameBody = (body: RunFrameBody): RunFrameBody => {
  const room = MAX_DELTA_TEXT_BYTES - 1024;
  switch (body.type) {
    case 'tool.call':
      return jsonTextBytes(body.tool_call.arguments) <= room
        ? body
        : {
            ...body,
            tool_call: { ...body.tool_call, arguments: cut(body.tool_call.arguments, room) },
            truncated: true,
          };
    case 'tool.result':
      return jsonTextBytes(body.output) <= room
        ? body
        : { ...body, output: cut(body.output, room), truncated: true };
    case 'message.completed':
      return jsonTextBytes(JSON.stringify(body.message)) <= room
        ? body
        : { ...body, message: { ...body.message, content: null }, content_omitted: true };
    case 'run.failed':
      return jsonTextBytes(body.error.message) <= room
        ? body
        : { ...body, error: { ...body.error, message: cut(body.error.message, room) } };
    default:
      return body;
  }
};
