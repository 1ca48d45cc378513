// Use case: `POST /v1/chat/completions`, OpenAI-compatible: checks the request against the tenant's
// models and the model's limits, meters the call like a run step, and answers in OpenAI's shape (JSON, or
// SSE chunks). Client-side function tools are returned to the caller (finish_reason `tool_calls`), never run.
import { randomUUID } from 'node:crypto';
import { InvalidRequestError } from '../errors';
import { LlmContextTooLongError } from '../llm/errors';
import { estimatePromptTokens } from '../llm/token-estimate';
import type { ChatCompletion, ChatDelta, ChatMessage, ChatRequest, FunctionTool, Usage } from '../llm/types';
import type { Clock } from '../ports/clock';
import type { LlmClient } from '../ports/llm-client';
import type { QuotaLedger } from '../ports/quota-ledger';
import type { SessionStore } from '../ports/session-store';
import { rateLimitHeaders } from '../quotas/errors';
import { releaseTokens } from '../quotas/release-tokens';
import type { RequestMeter } from '../quotas/request-meter';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { appendMessages, parseAppend } from '../sessions/append-messages';
import { ModelNotAllowedError, SessionNotFoundError } from '../sessions/errors';
import { resolveModel, type SessionSettings } from '../sessions/model';
import { type NewMessage, SESSION_ID_PATTERN } from '../sessions/schemas';
import { effectiveModels } from '../tenants/model';
import type { TenantRecord } from '../tenants/schemas';
import {
  type EarlyAdmission,
  earlyAdmissionHolds,
  earlyReservation,
  undoEarlyAdmission,
} from './early-admission';
import { MaxTokensTooLargeError, ModelNotFoundError, UnsupportedParameterError } from './errors';
import { meteredLlmStep, reservationTokens } from './metered-step';
import { type ChatTimeouts, quotasOf } from './model';
import { DEFAULT_STEP_MAX_TOKENS, modelLimits } from './model-limits';
import type { ChatCompletionRequest, ChatCompletionResponse, RequestMessage } from './schemas';

export interface ChatCompletionDeps {
  readonly store: SessionStore;
  readonly ledger: QuotaLedger;
  readonly llm: LlmClient;
  readonly clock: Clock;
  readonly settings: SessionSettings;
  readonly ids: { newId(prefix: 'msg' | 'run' | 'ses' | 'ten' | 'key'): string };
  readonly timeouts: Pick<ChatTimeouts, 'completionDeadlineMs'>;
}

export interface ChatCompletionAnswer {
  readonly completion: ChatCompletionResponse;
  /** With `stream: true`: the whole answer as `text/event-stream` events, ending in `data: [DONE]`. */
  readonly sse?: string;
  /** `x-ratelimit-*-tokens` after the call, and whether a fallback answered. */
  readonly headers: Record<string, string>;
}

export interface ChatCompletionOptions {
  /** `X-Session-Id`: append this exchange to the tenant's session (404 if it is not the tenant's). */
  readonly sessionId?: string;
  /** The request's `requests_per_minute` count, written with the token reservation. */
  readonly meter?: RequestMeter;
  /**
   * The call's admission, taken beside the key's re-check under the quotas the tenant had on its last
   * request (see early-admission.ts): its hold names the completion. Used when those quotas still hold,
   * given back if the request is refused before its call.
   */
  readonly early?: EarlyAdmission;
}

const text = (content: string | { type: 'text'; text: string }[] | null | undefined): string =>
  typeof content === 'string' ? content : (content ?? []).map((part) => part.text).join('');

const toChatMessage = (message: RequestMessage): ChatMessage => {
  switch (message.role) {
    case 'developer':
    case 'system':
      return { role: 'system', content: text(message.content), ...(message.name && { name: message.name }) };
    case 'user':
      return { role: 'user', content: text(message.content), ...(message.name && { name: message.name }) };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content === undefined || message.content === null ? null : text(message.content),
        ...(message.tool_calls?.length && { tool_calls: message.tool_calls }),
      };
    case 'tool':
      return { role: 'tool', content: text(message.content), tool_call_id: message.tool_call_id };
  }
};

/** The request once its model is settled (the tenant's default when it named none). */
type ModelledRequest = ChatCompletionRequest & { model: string };

/** Checks OpenAI makes before calling a model, so a bad request is a 400 and costs nothing. */
const checkRequest = (
  deps: ChatCompletionDeps,
  tenant: TenantRecord,
  body: ModelledRequest,
): { maxTokens: number } => {
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw new UnsupportedParameterError('n', `Only n=1 is supported; got n=${body.n}`);
  }
  const allowed = effectiveModels(tenant, deps.settings.tenants);
  if (!deps.settings.tenants.allowedModels.includes(body.model))
    throw new ModelNotFoundError(body.model, allowed);
  if (!allowed.includes(body.model)) throw new ModelNotAllowedError(body.model, allowed);

  const limits = modelLimits(body.model);
  const param = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const requested = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  if (requested !== undefined && requested > limits.maxOutputTokens) {
    throw new MaxTokensTooLargeError(requested, limits.maxOutputTokens, body.model, param);
  }

  const names = new Set<string>();
  body.tools?.forEach((tool, index) => {
    if (names.has(tool.function.name)) {
      throw new InvalidRequestError(
        'duplicate_tool',
        `The function '${tool.function.name}' is defined twice`,
        {
          param: `tools[${index}].function.name`,
        },
      );
    }
    names.add(tool.function.name);
  });
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== 'none' && names.size === 0) {
    throw new InvalidRequestError('invalid_tool_choice', 'tool_choice needs tools', { param: 'tool_choice' });
  }
  if (typeof choice === 'object' && !names.has(choice.function.name)) {
    throw new InvalidRequestError(
      'invalid_tool_choice',
      `tool_choice names '${choice.function.name}', which is not among the tools`,
      { param: 'tool_choice.function.name' },
    );
  }
  return { maxTokens: requested ?? Math.min(DEFAULT_STEP_MAX_TOKENS, limits.maxOutputTokens) };
};

/** The request's function tools as the LLM port takes them; undefined when it has none. */
const functionTools = (body: ChatCompletionRequest): FunctionTool[] | undefined => {
  const tools = body.tools?.map(
    (tool): FunctionTool => ({
      type: 'function',
      function: {
        name: tool.function.name,
        ...(tool.function.description !== undefined && { description: tool.function.description }),
        parameters: tool.function.parameters ?? { type: 'object', properties: {} },
        ...(typeof tool.function.strict === 'boolean' && { strict: tool.function.strict }),
      },
    }),
  );
  return tools?.length ? tools : undefined;
};

/** The LLM call a completion makes, once its model and `max_tokens` are settled. */
const llmRequestOf = (
  body: ChatCompletionRequest,
  model: string,
  maxTokens: number,
  tenantId: string,
): ChatRequest & { max_tokens: number } => {
  const tools = functionTools(body);
  return {
    model,
    messages: body.messages.map(toChatMessage),
    ...(tools && { tools }),
    ...(body.tool_choice !== undefined && { tool_choice: body.tool_choice }),
    max_tokens: maxTokens,
    ...(body.temperature != null && { temperature: body.temperature }),
    // The provider sees the tenant, never the caller's own end-user id (which may name a person).
    user: tenantId,
  };
};

/**
 * What a completion's early admission holds before its tenant is read: the worst case of its call, with
 * the `max_tokens` it asked for or else the largest default a model gets. It is never below the worst
 * case the request turns out to have, so the hold is not grown.
 *
 * @example
 * earlyCompletionTokens({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 64 }); // 64 + the prompt's bound
 */
export const earlyCompletionTokens = (body: ChatCompletionRequest): number =>
  reservationTokens(
    llmRequestOf(
      body,
      body.model ?? '',
      body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_STEP_MAX_TOKENS,
      '',
    ),
  );

/** A new completion's id, which also names its token hold. */
export const newCompletionId = (): string => `chatcmpl-${randomUUID().replaceAll('-', '')}`;

/** The request's messages after its last assistant message: the caller's side of this exchange. */
const exchangeOf = (messages: readonly ChatMessage[]): NewMessage[] => {
  const lastAssistant = messages.map((message) => message.role).lastIndexOf('assistant');
  return messages
    .slice(lastAssistant + 1)
    .filter((message) => message.role !== 'system')
    .map((message) =>
      message.role === 'tool'
        ? { role: 'tool', content: message.content, tool_call_id: message.tool_call_id }
        : { role: message.role, content: message.content },
    );
};

/**
 * The caller's side of the exchange as its session will store it, checked by the append's own rules
 * before the call, with an empty answer in the answer's place: a request the append would refuse (more
 * messages than one append takes, say) is a 400 that costs no LLM call.
 */
const sessionExchange = (appendId: string, messages: readonly ChatMessage[]): NewMessage[] => {
  const exchange = exchangeOf(messages);
  parseAppend({ append_id: appendId, messages: [...exchange, { role: 'assistant', content: '' }] });
  return exchange;
};

/**
 * @example
 * const { completion, sse, headers } = await createChatCompletion(deps, tenant, {
 *   model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 64,
 * });
 * completion.choices[0].message.content; completion.usage.total_tokens;
 */
export const createChatCompletion = async (
  deps: ChatCompletionDeps,
  tenant: TenantRecord,
  requested: ChatCompletionRequest,
  options: ChatCompletionOptions = {},
): Promise<ChatCompletionAnswer> => {
  let early = options.early;
  /** Gives back an early admission the call did not take: nothing of the request went ahead on it. */
  const undoEarly = async () => {
    const taken = early;
    early = undefined;
    if (taken) await undoEarlyAdmission(deps, taken);
  };
  let body: ModelledRequest;
  let request: ChatRequest & { max_tokens: number };
  let exchange: NewMessage[] | undefined;
  let id: string;
  try {
    if (early && !earlyAdmissionHolds(early, quotasOf(deps, tenant))) await undoEarly();
    id = early?.reservation.holdId ?? newCompletionId();
    body = { ...requested, model: requested.model ?? resolveModel(tenant, deps.settings, undefined) };
    const { maxTokens } = checkRequest(deps, tenant, body);
    request = llmRequestOf(body, body.model, maxTokens, tenant.id);
    const limits = modelLimits(body.model);
    if (estimatePromptTokens(request) + maxTokens > limits.contextTokens) {
      throw new LlmContextTooLongError(
        `The messages and max_tokens (${maxTokens}) exceed the model's context window of ${limits.contextTokens} tokens`,
      );
    }
    if (options.sessionId !== undefined) {
      exchange = sessionExchange(id, request.messages);
      const session = SESSION_ID_PATTERN.test(options.sessionId)
        ? await deps.store.getSession(tenant.id, options.sessionId)
        : undefined;
      if (!session) throw new SessionNotFoundError(options.sessionId);
    }
  } catch (error) {
    // Refused before its call: nothing went ahead on an early admission, which goes back whole.
    await undoEarly();
    throw error;
  }
  const deltas: ChatDelta[] = [];
  const deadline = deps.clock.now().getTime() + deps.timeouts.completionDeadlineMs;
  const sessionId = options.sessionId;
  const result = await meteredLlmStep(
    deps,
    {
      tenantId: tenant.id,
      tokenLimit: quotasOf(deps, tenant).tokens_per_month,
      reservationId: id,
      request,
      ...(options.meter && { meter: options.meter }),
      ...(early && {
        // The call takes the early admission: the request was counted by its hold.
        reserve: (tokens: number) => earlyReservation(deps, early as EarlyAdmission, tokens, options.meter),
      }),
      deadlineMs: deadline,
      ...(body.stream && { onDelta: (delta: ChatDelta) => void deltas.push(delta) }),
    },
    sessionId === undefined || exchange === undefined
      ? undefined
      : async (completion, _usage, reservation) => {
          try {
            await appendMessages(deps, tenant.id, sessionId, {
              append_id: id,
              messages: [
                ...(exchange as NewMessage[]),
                {
                  role: 'assistant',
                  content: completion.message.content ?? (completion.message.tool_calls?.length ? null : ''),
                  ...(completion.message.tool_calls?.length && { tool_calls: completion.message.tool_calls }),
                },
              ],
            });
          } catch (error) {
            // No answer, so no charge: unlike a run's step, nothing will resume this call to settle its
            // hold, which goes back now rather than at the end of its lease (the session was deleted
            // meanwhile, or the write failed).
            await releaseTokens(deps, reservation);
            throw error;
          }
        },
  );
  const completion = toResponse(id, result.completion, result.usage);
  const headers = {
    ...answerHeaders(result.completion),
    ...tokenHeaders(result.reservation, result.usage, Math.floor(deps.clock.now().getTime() / 1000)),
  };
  if (!body.stream) return { completion, headers };
  return { completion, headers, sse: toSse(completion, deltas, body.stream_options?.include_usage === true) };
};

const answerHeaders = (completion: ChatCompletion): Record<string, string> => ({
  'x-tenantic-provider': completion.provider,
  ...(completion.degraded && { 'x-tenantic-degraded': 'true' }),
});

const tokenHeaders = (
  reservation: TokenReservation,
  usage: Usage,
  nowSeconds: number,
): Record<string, string> => {
  if (reservation.unlimited || reservation.standing.remaining === undefined) return {};
  const remaining = reservation.standing.remaining + reservation.amount - usage.total_tokens;
  return rateLimitHeaders('tokens_per_month', { ...reservation.standing, remaining }, nowSeconds);
};

const toResponse = (id: string, completion: ChatCompletion, usage: Usage): ChatCompletionResponse => ({
  id,
  object: 'chat.completion',
  created: completion.created,
  model: completion.model,
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: completion.message.content,
        refusal: null,
        ...(completion.message.tool_calls?.length && { tool_calls: completion.message.tool_calls }),
      },
      finish_reason: completion.finish_reason,
      logprobs: null,
    },
  ],
  usage,
  system_fingerprint: null,
  degraded: completion.degraded,
});

/**
 * OpenAI's SSE framing of a completion: a role chunk, the text and tool-call fragments as the model
 * produced them, the finish chunk, the usage chunk when asked for, then `data: [DONE]`. API Gateway's
 * HTTP API buffers a Lambda's response, so these arrive together: the framing is for client
 * compatibility; live tokens are the WebSocket API's job.
 */
const toSse = (
  completion: ChatCompletionResponse,
  deltas: readonly ChatDelta[],
  includeUsage: boolean,
): string => {
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    system_fingerprint: null,
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...(includeUsage && { usage: null }),
  });
  const chunks: unknown[] = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const delta of deltas) {
    if (delta.type === 'text') chunks.push(chunk({ content: delta.text }));
    else if (delta.type === 'tool_call') {
      chunks.push(
        chunk({
          tool_calls: [
            {
              index: delta.index,
              ...(delta.id && { id: delta.id, type: 'function' }),
              function: { ...(delta.name && { name: delta.name }), arguments: delta.arguments ?? '' },
            },
          ],
        }),
      );
    }
  }
  chunks.push(chunk({}, completion.choices[0]?.finish_reason ?? 'stop'));
  if (includeUsage) chunks.push({ ...base, choices: [], usage: completion.usage });
  return `${chunks.map((item) => `data: ${JSON.stringify(item)}\n\n`).join('')}data: [DONE]\n\n`;
};
