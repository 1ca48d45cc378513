// Core: the session, message and run vocabulary: request bodies, resources and stored records, all from zod.
import { z } from 'zod';
import { idPattern } from '../ids';
import { listEnvelope, PageQuerySchema } from '../pagination';

export const SESSION_ID_PATTERN = idPattern('ses');
export const MESSAGE_ID_PATTERN = idPattern('msg');
const RUN_ID_PATTERN = idPattern('run');

export const SessionIdSchema = z.string().regex(SESSION_ID_PATTERN, 'not a session id');
export const MessageIdSchema = z.string().regex(MESSAGE_ID_PATTERN, 'not a message id');
const RunIdSchema = z.string().regex(RUN_ID_PATTERN, 'not a run id');

/** Bounds that keep a session item far below DynamoDB's 400 KB, whatever the characters. */
const SESSION_LIMITS = {
  titleChars: 256,
  modelChars: 128,
  systemPromptChars: 32_768,
  tools: 128,
  metadataPairs: 16,
  metadataKeyChars: 64,
  metadataValueChars: 512,
} as const;

const ToolName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a tool name is 1-64 letters, digits, _ or -');

/** OpenAI's metadata: at most 16 string pairs, keys up to 64 characters, values up to 512. */
const MetadataSchema = z
  .record(
    z.string().min(1).max(SESSION_LIMITS.metadataKeyChars),
    z.string().max(SESSION_LIMITS.metadataValueChars),
  )
  .refine((value) => Object.keys(value).length <= SESSION_LIMITS.metadataPairs, {
    message: `at most ${SESSION_LIMITS.metadataPairs} metadata pairs`,
  })
  .describe('Up to 16 string pairs; keys up to 64 characters, values up to 512')
  .meta({ id: 'Metadata', maxProperties: SESSION_LIMITS.metadataPairs });
type Metadata = z.infer<typeof MetadataSchema>;

export const CreateSessionRequest = z
  .object({
    title: z.string().trim().min(1).max(SESSION_LIMITS.titleChars).optional(),
    model: z
      .string()
      .min(1)
      .max(SESSION_LIMITS.modelChars)
      .optional()
      .describe("One of the tenant's models (`GET /v1/models`); the stage's default model when absent"),
    system_prompt: z.string().min(1).max(SESSION_LIMITS.systemPromptChars).optional(),
    tools: z
      .array(ToolName)
      .max(SESSION_LIMITS.tools)
      .refine((list) => new Set(list).size === list.length, 'must not repeat an entry')
      .optional()
      .describe('Tools the agent may call in this session; every tool the tenant may use when absent'),
    metadata: MetadataSchema.optional(),
  })
  .strict()
  .meta({ id: 'CreateSessionRequest' });
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

const unixSeconds = z.number().int().describe('Unix time in seconds');

const CONTEXT_STRATEGIES = ['full', 'summarized', 'truncated'] as const;

/**
 * What the model sees of a long session (docs/sessions-context.md): the newest messages up to the window's
 * edge, and older turns either folded into a running summary or dropped. The stored history is never cut.
 */
export const SessionContextResource = z
  .object({
    strategy: z
      .enum(CONTEXT_STRATEGIES)
      .describe(
        "full: every message is still in the model's view; summarized: older turns are folded into a " +
          "running summary; truncated: older turns were dropped from the model's view without a summary " +
          '(the offline rule-based provider cannot summarize)',
      ),
    summarized_through: MessageIdSchema.nullable().describe(
      'The last message folded into the running summary (null: none)',
    ),
    truncated_through: MessageIdSchema.nullable().describe(
      'The model sees no message up to this one, nor a summary of those after `summarized_through` (null: none)',
    ),
    window_messages: z
      .number()
      .int()
      .positive()
      .describe('The most messages a turn reads and shows the model verbatim'),
    compacting: z.boolean().describe('True while a compaction of older turns is queued'),
    updated_at: unixSeconds.nullable().describe('When the summary or truncation last moved'),
  })
  .meta({ id: 'SessionContext' });
export type SessionContextResource = z.infer<typeof SessionContextResource>;

/** How a session's older turns were compacted, as stored on the session item. */
export interface SessionContextState {
  strategy: 'summarized' | 'truncated';
  /** The running summary (kept across a later truncation: it still covers what it covers). */
  summary: string | null;
  summarized_through: string | null;
  truncated_through: string | null;
  updated_at: number;
}

/** A queued compaction, on the session item: the fence that keeps one in flight per session. */
export interface CompactionRequest {
  request_id: string;
  /** The oldest message that stays verbatim: everything before it is compacted. */
  before: string;
  /** Epoch seconds; a request older than the stale age may be replaced (its job was lost). */
  requested_at: number;
}

export const SessionResource = z
  .object({
    id: SessionIdSchema,
    object: z.literal('session'),
    title: z.string().nullable(),
    model: z.string(),
    system_prompt: z.string().nullable(),
    tools: z.array(z.string()).nullable().describe('null: every tool the tenant may use, at run time'),
    metadata: z.record(z.string(), z.string()),
    created_at: unixSeconds,
    updated_at: unixSeconds,
    context: SessionContextResource,
  })
  .meta({ id: 'Session' });
export type SessionResource = z.infer<typeof SessionResource>;

/** A session as stored; `last_message_id` keeps message ids increasing in append order. */
export interface SessionRecord {
  id: string;
  tenant_id: string;
  title: string | null;
  model: string;
  system_prompt: string | null;
  tools: string[] | null;
  metadata: Metadata;
  created_at: number;
  updated_at: number;
  last_message_id: string | null;
  /** Absent until older turns first fall out of the model's window. */
  context?: SessionContextState;
  /** Present while a compaction is queued. */
  compaction?: CompactionRequest;
}

const MessageRoleSchema = z.enum(['user', 'assistant', 'tool', 'system']);

const ToolCallSchema = z
  .object({
    id: z.string().min(1).max(128),
    type: z.literal('function'),
    function: z.object({ name: z.string().min(1).max(64), arguments: z.string() }),
  })
  .meta({ id: 'ToolCall' });

export const MessageResource = z
  .object({
    id: MessageIdSchema,
    object: z.literal('message'),
    session_id: SessionIdSchema,
    role: MessageRoleSchema,
    content: z.string().nullable().describe('null only for an assistant message that only calls tools'),
    tool_calls: z.array(ToolCallSchema).optional(),
    tool_call_id: z.string().optional().describe('On a `tool` message: the call it answers'),
    run_id: RunIdSchema.optional(),
    created_at: unixSeconds,
  })
  .meta({ id: 'Message' });
export type MessageResource = z.infer<typeof MessageResource>;

/** A message as stored: the resource's fields, owned by a tenant. */
export type MessageRecord = Omit<MessageResource, 'object'> & { tenant_id: string };

/** What a caller appends; ids and times are assigned by `appendMessages`. */
export const NewMessageSchema = z
  .object({
    role: MessageRoleSchema,
    content: z.string().nullable(),
    tool_calls: z.array(ToolCallSchema).min(1).optional(),
    tool_call_id: z.string().min(1).max(128).optional(),
    run_id: RunIdSchema.optional(),
  })
  .strict()
  .refine((message) => message.content !== null || (message.tool_calls?.length ?? 0) > 0, {
    message: 'a message needs content or tool calls',
    path: ['content'],
  })
  .refine((message) => (message.role === 'tool') === (message.tool_call_id !== undefined), {
    message: 'a tool message, and only a tool message, names its tool_call_id',
    path: ['tool_call_id'],
  });
export type NewMessage = z.infer<typeof NewMessageSchema>;

export const RUN_STATUSES = [
  'queued',
  'in_progress',
  'requires_action',
  'completed',
  'failed',
  'cancelled',
] as const;
export const RunStatusSchema = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const UsageSchema = z
  .object({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
  })
  .meta({ id: 'Usage' });
export type Usage = z.infer<typeof UsageSchema>;

const RunStepSchema = z
  .object({
    index: z.number().int().nonnegative(),
    type: z.enum(['message_creation', 'tool_calls']),
    usage: UsageSchema,
    tool_call_ids: z.array(z.string()).optional(),
    degraded: z
      .boolean()
      .optional()
      .describe('True when a fallback (another model, or the rule-based provider) answered this step'),
    created_at: unixSeconds,
  })
  .meta({ id: 'RunStep' });
/**
 * A step as stored may also carry the token reservation it was charged through (never shown), so a run
 * resumed after a crash can settle it (idempotently) instead of leaving it to expire.
 */
export type RunStep = z.infer<typeof RunStepSchema> & { reservation?: Record<string, unknown> };

const RunErrorSchema = z
  .object({ type: z.string(), code: z.string(), message: z.string(), param: z.string().nullable() })
  .describe('The error envelope of a failed run');
export type RunError = z.infer<typeof RunErrorSchema>;

export const RunResource = z
  .object({
    id: RunIdSchema,
    object: z.literal('run'),
    session_id: SessionIdSchema,
    status: RunStatusSchema,
    model: z.string(),
    steps: z.array(RunStepSchema),
    usage: UsageSchema.describe('The sum over the steps'),
    error: RunErrorSchema.nullable(),
    created_at: unixSeconds,
    updated_at: unixSeconds,
    started_at: unixSeconds.nullable(),
    completed_at: unixSeconds.nullable().describe('When the run reached completed, failed or cancelled'),
  })
  .meta({ id: 'Run' });
export type RunResource = z.infer<typeof RunResource>;

/** A run as stored: the resource's fields, owned by a tenant. */
export type RunRecord = Omit<RunResource, 'object' | 'steps'> & { tenant_id: string; steps: RunStep[] };

export const SessionList = listEnvelope(SessionResource).meta({ id: 'SessionList' });
export const MessageList = listEnvelope(MessageResource).meta({ id: 'MessageList' });

export const DeletedSessionResource = z
  .object({ id: SessionIdSchema, object: z.literal('session.deleted'), deleted: z.literal(true) })
  .meta({ id: 'DeletedSession' });
export type DeletedSessionResource = z.infer<typeof DeletedSessionResource>;

/** `?limit=&after=&order=`; `order` defaults per list (sessions newest first, messages oldest first). */
const orderedPageQuery = (defaultOrder: 'asc' | 'desc') =>
  PageQuerySchema.extend({
    order: z
      .enum(['asc', 'desc'])
      .default(defaultOrder)
      .describe(`asc: oldest first; desc: newest first (default ${defaultOrder})`),
  });
export const SessionPageQuery = orderedPageQuery('desc');
export const MessagePageQuery = orderedPageQuery('asc');
export type OrderedPageQuery = z.infer<typeof MessagePageQuery>;

export const SessionPathSchema = z.object({ id: SessionIdSchema }).strict();
export const RunPathSchema = z.object({ id: RunIdSchema }).strict();
