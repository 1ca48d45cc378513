// Core: the chat vocabulary at the edge: the send-message body, the run job's payload, and OpenAI's
// chat-completions request and response, all from zod (the OpenAPI document is generated from them).
import { z } from 'zod';
import { MessageIdSchema, MessageResource, RunResource, SessionIdSchema } from '../sessions/schemas';

/** A message's text: far below what an item or a context window holds, far above any chat turn. */
export const MAX_MESSAGE_CHARS = 32_768;
/** OpenAI's own limits: 128 tools per request, function names of 1-64 `[a-zA-Z0-9_-]`. */
const MAX_REQUEST_TOOLS = 128;
const MAX_REQUEST_MESSAGES = 1_000;

export const SendMessageRequest = z
  .object({
    content: z
      .string()
      .max(MAX_MESSAGE_CHARS)
      .refine((text) => text.trim().length > 0, 'must not be empty')
      .describe(`The user's message, 1-${MAX_MESSAGE_CHARS} characters`),
    file_ids: z
      .array(z.string().min(1).max(128))
      .max(10)
      .optional()
      .describe('Files to attach (none exist yet)'),
    async: z.boolean().optional().describe('true: always answer 202 and run on the queue'),
  })
  .strict()
  .meta({ id: 'SendMessageRequest' });
export type SendMessageRequest = z.infer<typeof SendMessageRequest>;

export const SendMessageResult = z
  .object({
    message: MessageResource.optional().describe("200 only: the assistant's answer"),
    run: RunResource,
  })
  .describe('200 `{message, run}` when the run finished in time; 202 `{run}` when it continues on the queue')
  .meta({ id: 'SendMessageResult' });
export type SendMessageResult = z.input<typeof SendMessageResult>;

/**
 * `run.execute` on chat-runs: the envelope's `id` is the run id. Unknown fields are dropped, as in the
 * envelope: a newer producer may add one during a rolling deploy.
 */
export const RunExecutePayload = z.object({ session_id: SessionIdSchema });
export type RunExecutePayload = z.infer<typeof RunExecutePayload>;
export const RUN_EXECUTE_JOB = 'run.execute';

/** `session.compact`: fold a session's older turns into its running summary (compact-session.ts). */
export const CompactSessionPayload = z.object({
  session_id: SessionIdSchema,
  /** The oldest message that stays verbatim: everything before it is compacted. */
  before: MessageIdSchema,
});
export type CompactSessionPayload = z.infer<typeof CompactSessionPayload>;
export const COMPACT_SESSION_JOB = 'session.compact';

// --- OpenAI chat completions ---------------------------------------------------------------------------

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).strict();
/** OpenAI accepts a string or an array of text parts; images and audio are not served here. */
const Content = z.union([z.string(), z.array(TextPart).max(256)]);
const FunctionName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, _ or -');

const RequestToolCall = z
  .object({
    id: z.string().min(1).max(128),
    type: z.literal('function'),
    function: z.object({ name: FunctionName, arguments: z.string() }).strict(),
  })
  .strict();

const RequestMessage = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: Content, name: z.string().max(64).optional() }).strict(),
  z.object({ role: z.literal('developer'), content: Content, name: z.string().max(64).optional() }).strict(),
  z.object({ role: z.literal('user'), content: Content, name: z.string().max(64).optional() }).strict(),
  z
    .object({
      role: z.literal('assistant'),
      content: Content.nullable().optional(),
      tool_calls: z.array(RequestToolCall).max(MAX_REQUEST_TOOLS).optional(),
      name: z.string().max(64).optional(),
      refusal: z.string().nullable().optional(),
    })
    .strict(),
  z.object({ role: z.literal('tool'), content: Content, tool_call_id: z.string().min(1).max(128) }).strict(),
]);
export type RequestMessage = z.infer<typeof RequestMessage>;

const RequestTool = z
  .object({
    type: z.literal('function'),
    function: z
      .object({
        name: FunctionName,
        description: z.string().max(4_096).optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      })
      .strict(),
  })
  .strict();

const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: FunctionName }).strict() }).strict(),
]);

const TokenCount = z.number().int().positive();

/**
 * OpenAI's request, as far as this API serves it. Parameters that only tune sampling, or that OpenAI
 * uses for its own bookkeeping (`user`, `metadata`, `store`, `seed`, ...), are accepted and not passed
 * on; anything else unknown is a 400 naming it.
 */
export const ChatCompletionRequest = z
  .object({
    model: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("One of the tenant's models (`GET /v1/models`); absent, the tenant's default model"),
    messages: z.array(RequestMessage).min(1).max(MAX_REQUEST_MESSAGES),
    tools: z.array(RequestTool).max(MAX_REQUEST_TOOLS).optional(),
    tool_choice: ToolChoice.optional(),
    parallel_tool_calls: z.boolean().optional(),
    max_tokens: TokenCount.nullable().optional(),
    max_completion_tokens: TokenCount.nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    n: z.number().int().nullable().optional().describe('Only 1 is served'),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullable().optional(),
    stop: z
      .union([z.string(), z.array(z.string()).max(4)])
      .nullable()
      .optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    user: z.string().max(256).optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
    store: z.boolean().nullable().optional(),
  })
  .strict()
  .meta({ id: 'ChatCompletionRequest' });
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

const Usage = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
});

export const ChatCompletionResponse = z
  .object({
    id: z.string().describe('`chatcmpl-…`'),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string().describe('The model that answered (a fallback may differ from the one asked for)'),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable(),
          refusal: z.null(),
          tool_calls: z.array(RequestToolCall).optional(),
        }),
        finish_reason: z.enum(['stop', 'length', 'tool_calls', 'content_filter']),
        logprobs: z.null(),
      }),
    ),
    usage: Usage,
    system_fingerprint: z.string().nullable(),
    degraded: z.boolean().describe('Tenantic: true when a fallback answered (the rule-based provider, say)'),
  })
  .describe('With `stream: true`: the same answer as `text/event-stream` chat.completion.chunk events')
  .meta({ id: 'ChatCompletion' });
export type ChatCompletionResponse = z.input<typeof ChatCompletionResponse>;
