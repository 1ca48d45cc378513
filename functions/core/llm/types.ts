// Core: the chat vocabulary of the LLM port, in OpenAI chat-completions terms but owned by us, so the core
// never imports `openai` and any OpenAI-compatible provider (or none: the rule-based one) can sit behind it.

/** JSON Schema as sent to a model for a function's parameters (generated from zod, never hand-written). */
export type JsonSchema = { [key: string]: unknown };

/** A function call the assistant asked for; `arguments` is JSON text exactly as the model wrote it. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface SystemMessage {
  role: 'system';
  content: string;
  name?: string;
}

interface UserMessage {
  role: 'user';
  content: string;
  name?: string;
}

export interface AssistantMessage {
  role: 'assistant';
  /** Null when the assistant only calls tools. */
  content: string | null;
  tool_calls?: ToolCall[];
  name?: string;
}

/** A tool's output, answering the assistant's tool call of the same id. */
export interface ToolMessage {
  role: 'tool';
  content: string;
  tool_call_id: string;
}

export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

/** A function the model may call, described by its JSON Schema. */
export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters: JsonSchema; strict?: boolean };
}

type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/** One chat-completions call; only the fields the platform uses (n is always 1). */
export interface ChatRequest {
  /** The model id as the provider knows it. */
  model: string;
  messages: ChatMessage[];
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  /** Upper bound of completion tokens; also what the quota ledger reserves. */
  max_tokens?: number;
  temperature?: number;
  /** An opaque end-user id for the provider's abuse monitoring (the tenant id, never a person's name). */
  user?: string;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Who produced an answer: every completion and every stream's final chunk says so. */
interface AnswerSource {
  /** Provider name as configured (`openai`, `azure-eu`, `rule-based`, ...). */
  provider: string;
  /** The model that actually answered, which a fallback may have changed. */
  model: string;
  /** True when a fallback answered (another model or provider, or the rule-based provider). */
  degraded: boolean;
}

export interface ChatCompletion extends AnswerSource {
  id: string;
  /** Epoch seconds, as in OpenAI's `created`. */
  created: number;
  message: AssistantMessage;
  finish_reason: FinishReason;
  usage: Usage;
  /** True when the provider reported no usage and `usage` is our conservative estimate. */
  usage_estimated?: boolean;
}

/** A piece of the answer's text. */
interface TextDelta {
  type: 'text';
  text: string;
}

/**
 * A fragment of a tool call. The first fragment of a call carries its `id` and `name`; later ones append
 * to `arguments`. Fragments of parallel calls interleave and are told apart by `index`.
 */
interface ToolCallDelta {
  type: 'tool_call';
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

/** The last chunk of every stream that ended well: why it ended, what it cost, who answered. */
export interface FinishDelta extends AnswerSource {
  type: 'finish';
  id: string;
  finish_reason: FinishReason;
  usage: Usage;
  usage_estimated?: boolean;
}

export type ChatDelta = TextDelta | ToolCallDelta | FinishDelta;

/** Per-call limits: the caller's cancellation and the absolute time by which an answer is useless. */
export interface LlmCallOptions {
  signal?: AbortSignal;
  /** Absolute deadline, epoch milliseconds on the same clock the client was given (Date.now by default). */
  deadlineMs?: number;
}
