// Use case helper: one step of the agent loop: the history, the context, the metered LLM call with its
// deadline, and what the step's end (recorded, failed, cut short) means for the run.
// Vocabulary: docs/glossary.md
import { TenanticError } from '../errors';
import { isLlmError, LlmAbortedError, LlmTimeoutError } from '../llm/errors';
import type { ChatDelta, ChatMessage, Usage } from '../llm/types';
import { QuotaExceededError } from '../quotas/errors';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { SessionNotFoundError } from '../sessions/errors';
import { toRunResource } from '../sessions/model';
import type { MessageResource } from '../sessions/schemas';
import { buildContext } from './build-context';
import { requestCompactionIfDue } from './compact-session';
import type { ExecuteRunOutcome } from './execute-run';
import { type MeteredStepInput, meteredLlmStep } from './metered-step';
import { loadHistory, loadSessionHistory, nowMs, toChatMessage } from './model';
import { type RecordedStep, recordOnCancelledRun, recordStep } from './record-step';
import { ensureSaved, errorOf, failRun, finalOutcome, handoff, heldBy, type RunState } from './run-state';

/** A step is not started with less time than this left before the inline deadline. */
const MIN_STEP_MS = 1_000;
/** Abort an inline call at the hand-off time, but give the LLM client a later deadline so a slow upstream
 * is aborted (our decision, no fallback) rather than timed out (its fault: the rule-based answer). */
const DEADLINE_SLACK_MS = 1_000;

/**
 * Takes step `index` of the run: returns the run's outcome when the step ends it (an answer, a failure,
 * a hand-off, a cancel), undefined when the run goes on to the next step.
 *
 * @example
 * for (let index = state.firstIndex; index < state.maxSteps; index += 1) {
 *   const outcome = await takeStep(state, index);
 *   if (outcome) return outcome;
 * }
 */
export const takeStep = async (state: RunState, index: number): Promise<ExecuteRunOutcome | undefined> => {
  const stopped = await stopBeforeStep(state);
  if (stopped) return stopped;
  const history = await stepHistory(state, index);
  let messages: ChatMessage[];
  try {
    ({ messages } = buildContext({
      systemPrompt: state.session.system_prompt,
      history,
      ...(state.plan.tools && { tools: state.plan.tools }),
      contextTokens: state.plan.limits.contextTokens,
      maxTokens: state.plan.maxTokens,
    }));
  } catch (error) {
    if (error instanceof TenanticError && state.saved) return failRun(state, errorOf(error));
    throw error;
  }
  const recorded = await callModel(state, index, messages);
  if ('status' in recorded) return recorded;
  return afterStep(state, recorded, index);
};

/** Out of time before the step starts: an inline turn hands off, and a run past its budget fails. */
const stopBeforeStep = async (state: RunState): Promise<ExecuteRunOutcome | undefined> => {
  const { deps, input } = state;
  const now = nowMs(deps);
  if (input.handoffAtMs !== undefined && now >= input.handoffAtMs - MIN_STEP_MS) {
    await ensureSaved(state);
    return handoff(state);
  }
  if (now < state.runDeadline) return undefined;
  await ensureSaved(state);
  return failRun(state, {
    type: 'upstream_error',
    code: 'run_time_budget_exceeded',
    message: `The run used its time budget of ${deps.timeouts.runBudgetMs} ms after ${state.steps.length} step(s)`,
    param: null,
  });
};

/**
 * The history the step's context is built from. The caller's history is what the session held before
 * this invocation's first step: later steps read the session again, which then holds that step's
 * messages. An inline turn's question is added until it is on record.
 */
const stepHistory = async (state: RunState, index: number): Promise<ChatMessage[]> => {
  const { deps, tenantId, session } = state;
  const history =
    index > state.firstIndex
      ? await loadHistory(deps, tenantId, session.id, state.plan.limits.contextTokens)
      : await firstStepHistory(state);
  if (!state.saved && state.pending) history.push(toChatMessage(state.pending.userMessage));
  return history;
};

/**
 * The first step's read says whether older turns fell out of the window unhandled: if so, a compaction
 * is requested beside the step (one conditional write and a queued job, off the critical path: the
 * step's write waits for it only so the two never race on the session item).
 */
const firstStepHistory = async (state: RunState): Promise<ChatMessage[]> => {
  const { deps, input, tenantId, session } = state;
  const found = input.history
    ? { session, history: input.history, compactBefore: input.compactBefore }
    : await loadSessionHistory(deps, tenantId, session.id, state.plan.limits.contextTokens);
  if (!found) throw new SessionNotFoundError(session.id);
  state.background.compaction ??= requestCompactionIfDue(
    deps,
    tenantId,
    found.session,
    found.compactBefore,
  ).catch(() => false);
  return [...found.history];
};

/**
 * The metered call, aborted at the inline deadline or by the caller, with the step recorded from its
 * answer; a failed call becomes the run's outcome (or is thrown, see `stepFailed`).
 */
const callModel = async (
  state: RunState,
  index: number,
  messages: ChatMessage[],
): Promise<RecordedStep | ExecuteRunOutcome> => {
  const { deps, input } = state;
  const abort = new AbortController();
  const onCallerAbort = () => abort.abort();
  input.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const timer =
    input.handoffAtMs === undefined
      ? undefined
      : setTimeout(() => abort.abort(), Math.max(0, input.handoffAtMs - nowMs(deps)));
  try {
    const result = await meteredLlmStep(
      deps,
      stepRequest(state, index, messages, abort.signal),
      (completion, usage, reservation, settledWith) =>
        recordStep(state, { index, completion, usage, reservation, settledWith }),
    );
    return result.persisted;
  } catch (error) {
    return await stepFailed(state, error);
  } finally {
    if (timer) clearTimeout(timer);
    input.signal?.removeEventListener('abort', onCallerAbort);
  }
};

/** The metered call's input: the request, its deadline, and an inline turn's admission. */
const stepRequest = (
  state: RunState,
  index: number,
  messages: ChatMessage[],
  signal: AbortSignal,
): MeteredStepInput => {
  const { input, plan } = state;
  const lastAllowed = index === state.maxSteps - 1;
  return {
    tenantId: state.tenantId,
    tokenLimit: state.tokenLimit,
    reservationId: `${state.runId}:step-${index}`,
    request: {
      model: state.run.model,
      messages,
      ...(plan.tools && { tools: plan.tools, ...(lastAllowed && { tool_choice: 'none' as const }) }),
      max_tokens: plan.maxTokens,
      user: state.tenantId,
    },
    deadlineMs: Math.min(
      state.runDeadline,
      input.handoffAtMs === undefined ? Number.POSITIVE_INFINITY : input.handoffAtMs + DEADLINE_SLACK_MS,
    ),
    signal,
    ...firstStepAdmission(state),
    ...(input.meter && { meter: input.meter }),
    ...(input.onDelta && {
      onDelta: (delta: ChatDelta) => input.onDelta?.(delta, index),
      // A stream cut short by a cancel: the text its client saw is the step's answer, and what the
      // provider streamed is charged (anything else that ends a call mid-stream charges nothing).
      ...(state.saved && {
        onCutShort: (partial: { text: string; usage: Usage }, reservation: TokenReservation) =>
          recordCutShort(state, index, partial, reservation),
      }),
    }),
  };
};

/**
 * An inline turn's first step: its reservation is the early admission's, or is taken with the run's
 * slot beside it, leased to outlive this invocation and no longer; once granted, the turn is admitted.
 */
const firstStepAdmission = (state: RunState): Partial<MeteredStepInput> => {
  const { pending } = state;
  if (state.saved || !pending) return {};
  return {
    leaseSeconds: pending.leaseSeconds,
    ...(pending.reserve ? { reserve: pending.reserve } : pending.slot && { alongside: pending.slot }),
    onReserved: async () => {
      state.admitted = true;
    },
  };
};

/** A streamed step cut short: on a cancelled run, the text its client saw is recorded and charged. */
const recordCutShort = async (
  state: RunState,
  index: number,
  partial: { text: string; usage: Usage },
  reservation: TokenReservation,
): Promise<boolean> =>
  state.input.signal?.aborted === true &&
  (await recordOnCancelledRun(
    state,
    {
      index,
      type: 'message_creation',
      usage: partial.usage,
      created_at: Math.floor(nowMs(state.deps) / 1000),
      ...heldBy(reservation),
    },
    [{ role: 'assistant', content: partial.text, run_id: state.runId }],
    reservation,
  )) !== undefined;

/**
 * A step that failed before its write. Refused at admission (a 429): thrown, nothing written. Otherwise
 * an inline turn goes on record first; the deadline hands off; the function's own end leaves the run for
 * the redelivered job; the model's failures and an exhausted budget fail the run; anything else (the
 * store, a bug) is thrown, leaving the run and the step's reservation as they are for a retry.
 */
const stepFailed = async (state: RunState, error: unknown): Promise<ExecuteRunOutcome> => {
  const { deps, input } = state;
  if (!state.saved) {
    // Refused before the call (a 429: the budget, the rate, the slot): nothing written, nothing held.
    if (!state.admitted) throw error;
    // The inline turn's first step failed or was cut short before its write: the run and the user's
    // message go on record now, so the hand-off resumes from them and a failure is recorded as any.
    await ensureSaved(state);
  }
  const aborted = error instanceof LlmAbortedError || error instanceof LlmTimeoutError;
  if (aborted && input.handoffAtMs !== undefined && nowMs(deps) >= input.handoffAtMs - MIN_STEP_MS) {
    return handoff(state);
  }
  if (aborted && input.signal?.aborted) throw error;
  if (isLlmError(error) || error instanceof QuotaExceededError) return failRun(state, errorOf(error), error);
  throw error;
};

/** After a step's write: its messages are told, and a cancel, a failure or an answer ends the run. */
const afterStep = async (
  state: RunState,
  recorded: RecordedStep,
  index: number,
): Promise<ExecuteRunOutcome | undefined> => {
  if (recorded.appended.length > 0) await state.input.onStepRecorded?.(recorded.appended, index);
  if (recorded.cancelled) return finalOutcome(state.deps, state.tenantId, state.runId);
  if (recorded.run) state.run = recorded.run;
  if (state.run.status === 'failed') return { status: 'failed', run: toRunResource(state.run) };
  if (!recorded.final) return undefined;
  return {
    status: 'completed',
    run: toRunResource(state.run),
    message: recorded.appended[0] as MessageResource,
  };
};
