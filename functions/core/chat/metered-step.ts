// Use case: one metered LLM call: reserve the worst case, call with a deadline, persist, settle to
// the real usage; on failure the reservation is released, so no charge sticks.
// Vocabulary: docs/glossary.md
import { collectStream } from '../llm/deltas';
import { estimatePromptTokens, estimateTextTokens } from '../llm/token-estimate';
import type { ChatCompletion, ChatDelta, ChatMessage, ChatRequest, Usage } from '../llm/types';
import type { Clock } from '../ports/clock';
import type { LlmClient } from '../ports/llm-client';
import type { QuotaLedger, SettleResult } from '../ports/quota-ledger';
import { releaseTokens } from '../quotas/release-tokens';
import type { RequestMeter } from '../quotas/request-meter';
import { promptTokenBound, reserveTokens, type TokenReservation } from '../quotas/reserve-tokens';
import { settleTokens } from '../quotas/settle-tokens';

export interface MeteredStepDeps {
  readonly ledger: QuotaLedger;
  readonly llm: LlmClient;
  readonly clock: Clock;
}

/** Something taken beside a reservation, in the same round trip, and given back if either is refused. */
export interface Alongside {
  readonly take: () => Promise<unknown>;
  readonly giveBack: () => Promise<unknown>;
}

export interface MeteredStepInput {
  readonly tenantId: string;
  /** The tenant's `tokens_per_month` (null: unlimited, nothing written). */
  readonly tokenLimit: number | null;
  /** Deterministic per step (`<runId>:step-<n>`): a redelivered step finds its reservation, not a second. */
  readonly reservationId?: string;
  /** `max_tokens` must be set: it is half of what is reserved. */
  readonly request: ChatRequest & { max_tokens: number };
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
  /** When given, the call streams and each delta is handed over as it arrives (the WebSocket's live text). */
  readonly onDelta?: (delta: ChatDelta) => void | Promise<void>;
  /**
   * Runs once the tokens (and `alongside`) are held and before the call: whatever must follow an
   * admission and precede the call (the agent loop notes the turn was admitted). If it throws, the
   * reservation is released.
   */
  readonly onReserved?: (reservation: TokenReservation) => Promise<void>;
  /** The request's admission, when not yet counted: the reservation's write counts it too. */
  readonly meter?: RequestMeter;
  /** The reservation's lease (default in ledger-rules.ts): how long a crashed caller's hold blocks the budget. */
  readonly leaseSeconds?: number;
  /**
   * Taken at the same time as the reservation, so both cost one round trip (an inline run's
   * concurrent-run slot). If either is refused, the other is given back and the refusal thrown (the
   * reservation's first, as a refused reservation is what a retry must wait out).
   */
  readonly alongside?: Alongside;
  /**
   * The reservation, when it was taken before the step knew its worst case (an inline turn or a chat
   * completion admitted beside the key re-check): given that worst case, returns the hold (grown to it if
   * it was smaller).
   * Then nothing else is reserved here and `meter`, `reservationId`, `leaseSeconds` go unused.
   */
  readonly reserve?: (tokens: number) => Promise<TokenReservation>;
  /**
   * A streamed call that failed after some output (a cancel, a cut): the provider bills what it streamed.
   * Given that partial answer (its text) and our estimate of its usage, returns true when it recorded
   * them and charged the hold (a cancelled run keeps what its client saw); false releases the hold, as for
   * any failed call (the step will be repeated, or the run fails, and nothing is reported as used).
   */
  readonly onCutShort?: (
    partial: { text: string; usage: Usage },
    reservation: TokenReservation,
  ) => Promise<boolean>;
}

export interface MeteredStepResult<Persisted> {
  readonly completion: ChatCompletion;
  /** What was settled: the provider's usage, or our estimate when it reported none. */
  readonly usage: Usage;
  readonly reservation: TokenReservation;
  /** Settled usage beyond the reservation (never charged; impossible with the byte bound). */
  readonly overrun: number;
  readonly persisted: Persisted;
}

const messageTexts = (message: ChatMessage): string[] => [
  message.content ?? '',
  ...('name' in message && message.name ? [message.name] : []),
  ...(message.role === 'tool' ? [message.tool_call_id] : []),
  ...(message.role === 'assistant'
    ? (message.tool_calls ?? []).flatMap((call) => [call.id, call.function.name, call.function.arguments])
    : []),
];

/**
 * The worst case of a call: a bound its real prompt tokens cannot pass (the larger of the byte bound
 * and our estimate, so the estimate a rule-based answer reports is covered too) plus `max_tokens`.
 *
 * @example
 * reservationTokens({ model, messages, max_tokens: 256 }); // what reserveTokens holds for this call
 */
export const reservationTokens = (request: ChatRequest & { max_tokens: number }): number => {
  const texts = request.messages.flatMap(messageTexts);
  if (request.tools?.length) texts.push(JSON.stringify(request.tools));
  const bound =
    promptTokenBound(texts, request.messages.length) +
    (request.tools?.length ? 16 + 10 * request.tools.length : 0);
  return Math.max(bound, estimatePromptTokens(request)) + request.max_tokens;
};

/** The provider's usage, or (when it reported none) our estimate of the call, so a call is never free. */
const usageOf = (request: ChatRequest, completion: ChatCompletion): Usage => {
  const reported = completion.usage;
  if (reported && Number.isSafeInteger(reported.total_tokens) && reported.total_tokens > 0) return reported;
  const prompt = estimatePromptTokens(request);
  const answer =
    estimateTextTokens(completion.message.content ?? '') +
    (completion.message.tool_calls ?? []).reduce(
      (sum, call) =>
        sum + estimateTextTokens(call.function.name) + estimateTextTokens(call.function.arguments),
      0,
    );
  return { prompt_tokens: prompt, completion_tokens: answer, total_tokens: prompt + answer };
};

/** Our estimate of a call cut short after `outputTokens` of output: the whole prompt, and that output. */
const partialUsage = (request: ChatRequest, outputTokens: number): Usage => {
  const prompt = estimatePromptTokens(request);
  return { prompt_tokens: prompt, completion_tokens: outputTokens, total_tokens: prompt + outputTokens };
};

/**
 * Reserve → call → `persist` → settle, where `persist` may write the settle itself (the agent loop does,
 * in the step's transaction) and say so through `settledWith`. `persist` runs before the settle on purpose: if the process dies
 * between them, the step is on record with its usage and its reservation is still held under the same id,
 * so the resumed run settles it (settling twice is a no-op); the other order could charge a step twice.
 * A failed call releases the reservation, unless it streamed output that `onCutShort` records and charges;
 * a failed `persist` leaves it held for the resumed step (or, if none comes, for the ledger to reclaim
 * uncharged when its lease ends).
 *
 * @example
 * const { completion, usage } = await meteredLlmStep(deps, {
 *   tenantId, tokenLimit: 100_000, reservationId: `${runId}:step-0`,
 *   request: { model, messages, max_tokens: 512 }, deadlineMs: Date.now() + 20_000,
 * }, async (completion) => appendAnswer(completion));
 */
export const meteredLlmStep = async <Persisted = undefined>(
  deps: MeteredStepDeps,
  input: MeteredStepInput,
  persist?: (
    completion: ChatCompletion,
    usage: Usage,
    reservation: TokenReservation,
    /** Call when the persisting write settled the reservation itself (then no settle write follows). */
    settledWith: (result: SettleResult) => void,
  ) => Promise<Persisted>,
): Promise<MeteredStepResult<Persisted>> => {
  const tokens = reservationTokens(input.request);
  const [reserved, beside] = await Promise.allSettled([
    input.reserve
      ? input.reserve(tokens)
      : reserveTokens(deps, {
          tenantId: input.tenantId,
          limit: input.tokenLimit,
          tokens,
          ...(input.reservationId && { reservationId: input.reservationId }),
          ...(input.meter && { meter: input.meter }),
          ...(input.leaseSeconds !== undefined && { leaseSeconds: input.leaseSeconds }),
        }),
    input.alongside?.take(),
  ]);
  if (reserved.status === 'rejected' || beside.status === 'rejected') {
    // The refusal is the answer even if a give-back fails (the hold then lapses at the end of its lease).
    await Promise.allSettled([
      reserved.status === 'fulfilled' ? releaseTokens(deps, reserved.value) : undefined,
      beside.status === 'fulfilled' ? input.alongside?.giveBack() : undefined,
    ]);
    throw reserved.status === 'rejected' ? reserved.reason : (beside as PromiseRejectedResult).reason;
  }
  const reservation = reserved.value;
  if (input.onReserved) {
    try {
      await input.onReserved(reservation);
    } catch (error) {
      await releaseTokens(deps, reservation);
      throw error;
    }
  }
  let completion: ChatCompletion;
  /** What a stream relayed before it ended: answer text, and tool-call fragments (billed too). */
  let streamedText = '';
  let streamedCalls = '';
  try {
    const options = {
      ...(input.deadlineMs !== undefined && { deadlineMs: input.deadlineMs }),
      ...(input.signal && { signal: input.signal }),
    };
    if (input.onDelta) {
      const onDelta = input.onDelta;
      const relayed = async function* (deltas: AsyncIterable<ChatDelta>) {
        for await (const delta of deltas) {
          if (delta.type === 'text') streamedText += delta.text;
          else if (delta.type === 'tool_call') streamedCalls += `${delta.name ?? ''}${delta.arguments ?? ''}`;
          await onDelta(delta);
          yield delta;
        }
      };
      completion = await collectStream(
        relayed(deps.llm.stream(input.request, options)),
        Math.floor(deps.clock.now().getTime() / 1000),
      );
    } else {
      completion = await deps.llm.complete(input.request, options);
    }
  } catch (error) {
    const output = estimateTextTokens(streamedText) + estimateTextTokens(streamedCalls);
    const charged =
      output > 0 && input.onCutShort
        ? await input.onCutShort(
            { text: streamedText, usage: partialUsage(input.request, output) },
            reservation,
          )
        : false;
    if (!charged) await releaseTokens(deps, reservation);
    throw error;
  }
  const usage = usageOf(input.request, completion);
  let settledInPersist: SettleResult | undefined;
  const persisted = (
    persist
      ? await persist(completion, usage, reservation, (result) => {
          settledInPersist = result;
        })
      : undefined
  ) as Persisted;
  const settled = settledInPersist ?? (await settleTokens(deps, reservation, usage.total_tokens));
  return {
    completion,
    usage,
    reservation,
    overrun: settled.status === 'settled' ? settled.overrun : 0,
    persisted,
  };
};
