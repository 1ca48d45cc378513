// Use case helper: what the agent loop does with a step's answer: run its tools, then put the step's
// messages, the run's progress and the reservation's settle on record in one transaction.
// Vocabulary: docs/glossary.md
import { TenanticError } from '../errors';
import { LlmUnavailableError } from '../llm/errors';
import type { ChatCompletion, ToolCall, Usage } from '../llm/types';
import type { SettleResult } from '../ports/quota-ledger';
import type { RunChanges } from '../ports/session-store';
import { releaseTokens } from '../quotas/release-tokens';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { settleTokens } from '../quotas/settle-tokens';
import { appendMessages, MAX_APPEND_MESSAGES } from '../sessions/append-messages';
import { RunStateConflictError } from '../sessions/errors';
import { sumUsage } from '../sessions/model';
import { isFinalRunStatus } from '../sessions/run-transitions';
import type { MessageResource, NewMessage, RunRecord, RunStep } from '../sessions/schemas';
import type { PendingTurn } from './execute-run';
import { nowMs } from './model';
import { heldBy, maxStepsError, type RunState, releaseSlot } from './run-state';

/**
 * A step's messages are one append (its tool calls' results, its answer, and an inline turn's question):
 * this many calls still fit.
 */
export const MAX_TOOL_CALLS_PER_STEP = MAX_APPEND_MESSAGES - 2;

/** A step's answer from the model, as the metered call hands it over. */
export interface StepAnswer {
  readonly index: number;
  readonly completion: ChatCompletion;
  readonly usage: Usage;
  readonly reservation: TokenReservation;
  /** Tells the metered call the step's write settled the reservation (no settle write follows). */
  readonly settledWith: (result: SettleResult) => void;
}

/** What became of a step: on record (with the run's new state), or cut off by a cancel. */
export interface RecordedStep {
  readonly run: RunRecord | undefined;
  readonly appended: MessageResource[];
  readonly final: boolean;
  readonly cancelled: boolean;
}

/** The step and the run's changes it makes, proposed from an answer before they are written. */
interface ProposedStep {
  readonly step: RunStep;
  readonly final: boolean;
  readonly changes: RunChanges;
}

/**
 * Runs the step's tools and records the step: its messages, the run's progress and the settle of its
 * reservation in one transaction (an inline turn's first step: the run and the user's message too).
 * A run cancelled meanwhile keeps the step and its charge, and stays cancelled.
 *
 * @example
 * await meteredLlmStep(deps, request, (completion, usage, reservation, settledWith) =>
 *   recordStep(state, { index, completion, usage, reservation, settledWith }));
 */
export const recordStep = async (state: RunState, answer: StepAnswer): Promise<RecordedStep> => {
  await state.background.compaction;
  // An inline turn's first step: the run and the user's message are written with it.
  const first = state.saved ? undefined : state.pending;
  const calls = answer.completion.message.tool_calls ?? [];
  if (calls.length > MAX_TOOL_CALLS_PER_STEP) {
    // More than one write can record: the answer is unusable, and the run fails as for any bad answer of
    // the model (the hold goes back: nothing of the step is recorded).
    await releaseTokens(state.deps, answer.reservation);
    throw new LlmUnavailableError(
      `The model asked for ${calls.length} tool calls in one step; at most ${MAX_TOOL_CALLS_PER_STEP} are run`,
      { code: 'too_many_tool_calls', retryable: false },
    );
  }
  const messages = await runTools(state, answer, calls, first);
  const proposed = proposeStep(state, answer, messages[0]);
  try {
    return await writeStep(state, answer, messages, proposed, first);
  } catch (error) {
    if (!(error instanceof RunStateConflictError)) throw error;
    // Cancelled while the step ran: the tokens were spent, so the step goes on the cancelled run with its
    // charge; the run stays cancelled.
    const settled =
      error.current === 'cancelled'
        ? await recordOnCancelledRun(state, proposed.step, messages, answer.reservation)
        : undefined;
    if (settled) answer.settledWith(settled);
    return { run: undefined, appended: [], final: proposed.final, cancelled: true };
  }
};

/** The step's messages: the answer, then each tool call's result (a step calling tools is unfinished). */
const runTools = async (
  state: RunState,
  answer: StepAnswer,
  calls: ToolCall[],
  first: PendingTurn | undefined,
): Promise<NewMessage[]> => {
  const { runId } = state;
  const [results] = await Promise.all([
    Promise.all(calls.map((call) => toolResult(state, call))),
    // A step that calls tools leaves the run unfinished on record: its recovery comes first.
    first && calls.length > 0 ? first.beforeUnfinished() : undefined,
  ]);
  return [
    {
      role: 'assistant',
      content: answer.completion.message.content ?? (calls.length > 0 ? null : ''),
      ...(calls.length > 0 && { tool_calls: calls }),
      run_id: runId,
    },
    ...calls.map((call, at) => ({
      role: 'tool' as const,
      content: results[at] as string,
      tool_call_id: call.id,
      run_id: runId,
    })),
  ];
};

/** One tool call's result as the model reads it: a tool's failure is an answer too, never the run's. */
const toolResult = async (state: RunState, call: ToolCall): Promise<string> => {
  const { deps, input } = state;
  if (!state.plan.offered.has(call.function.name)) {
    return JSON.stringify({
      error: { code: 'tool_not_available', message: `no tool named '${call.function.name}' is available` },
    });
  }
  try {
    const output = await deps.tools.invoke(call.function.name, call.function.arguments, {
      now: () => nowMs(deps),
      tenantId: state.tenantId,
      ...(input.signal && { signal: input.signal }),
    });
    return JSON.stringify(output ?? null);
  } catch (error) {
    // The model reads the failure and may correct itself: a tool error never fails the run.
    const code = error instanceof TenanticError ? error.code : 'tool_failed';
    const message = error instanceof TenanticError ? error.message : 'the tool failed unexpectedly';
    return JSON.stringify({ error: { code, message } });
  }
};

/**
 * The step an answer makes, and the run's changes: completed on a final answer, failed when it still
 * calls tools on the last step it may take (with this step on record), in progress otherwise.
 */
const proposeStep = (
  state: RunState,
  answer: StepAnswer,
  message: { tool_calls?: readonly ToolCall[] | null } | undefined,
): ProposedStep => {
  const { index, completion, usage, reservation } = answer;
  const final = !message?.tool_calls?.length;
  const exhausted = !final && index === state.maxSteps - 1;
  const step: RunStep = {
    index,
    type: final ? 'message_creation' : 'tool_calls',
    usage,
    ...(!final && { tool_call_ids: (message?.tool_calls ?? []).map((call) => call.id) }),
    ...(completion.degraded && { degraded: true }),
    created_at: Math.floor(nowMs(state.deps) / 1000),
    ...heldBy(reservation),
  };
  const changes: RunChanges = {
    status: final ? 'completed' : exhausted ? 'failed' : 'in_progress',
    updated_at: step.created_at,
    ...((final || exhausted) && { completed_at: step.created_at }),
    steps: [...state.steps, step],
    usage: sumUsage([...state.steps, step]),
    ...(exhausted && { error: maxStepsError(state.maxSteps) }),
  };
  return { step, final, changes };
};

/** The run as `changes` leave it. */
const recordOf = (run: RunRecord, changes: RunChanges): RunRecord => ({
  ...run,
  status: changes.status,
  updated_at: changes.updated_at,
  completed_at: changes.completed_at ?? null,
  steps: changes.steps ?? [],
  usage: changes.usage ?? sumUsage(changes.steps ?? []),
  error: changes.error ?? null,
});

/**
 * The step's messages and the run's progress in one transaction (the first inline step: the run itself
 * and the user's message too); the charge lands with it, and the last step gives the slot back in it.
 */
const writeStep = async (
  state: RunState,
  answer: StepAnswer,
  messages: NewMessage[],
  proposed: ProposedStep,
  first: PendingTurn | undefined,
): Promise<RecordedStep> => {
  const { deps, runId, lastMessageId, slot } = state;
  const { reservation, usage } = answer;
  const appended = await appendMessages(
    deps,
    state.tenantId,
    state.session.id,
    {
      append_id: `${runId}:step-${answer.index}`,
      messages: first ? [first.userMessage, ...messages] : messages,
    },
    {
      ...(lastMessageId !== undefined && { known: { lastMessageId } }),
      ...(first
        ? { newRun: recordOf(state.run, proposed.changes) }
        : { runTransition: { runId, from: ['in_progress'], changes: proposed.changes } }),
      ...(!reservation.unlimited && { settle: { hold: reservation, used: usage.total_tokens } }),
      ...(slot && proposed.changes.status !== 'in_progress' && { releaseSlot: slot }),
    },
  );
  if (first) state.saved = true;
  if (appended.settled) answer.settledWith(appended.settled);
  const recordedStep = appended.messages.slice(first ? 1 : 0);
  // A replayed append ends the run as its recorded answer says, not as this attempt's.
  const ends = appended.transitioned ? proposed : proposeStep(state, answer, recordedStep[0]);
  if (ends.changes.status !== 'in_progress' && !appended.slotReleased) await releaseSlot(state);
  state.lastMessageId = appended.replayed ? undefined : (appended.messages.at(-1)?.id ?? undefined);
  if (!appended.transitioned) return recordReplayedStep(state, answer, recordedStep);
  state.steps.push(proposed.step);
  const run = recordOf(state.run, proposed.changes);
  return { run, appended: recordedStep, final: proposed.final, cancelled: false };
};

/**
 * A replayed append means an earlier attempt of this step got this far: its messages stand, and the
 * run's progress is recorded from them.
 */
const recordReplayedStep = async (
  state: RunState,
  answer: StepAnswer,
  recordedStep: MessageResource[],
): Promise<RecordedStep> => {
  const { deps, tenantId, runId } = state;
  const actual = proposeStep(state, answer, recordedStep[0]);
  const run = await deps.store.transitionRun(tenantId, runId, ['in_progress'], actual.changes);
  if (isFinalRunStatus(actual.changes.status)) {
    deps.metrics?.runFinished({ tenantId, status: actual.changes.status });
  }
  state.steps.push(actual.step);
  return { run, appended: recordedStep, final: actual.final, cancelled: false };
};

/**
 * Records a step on a run that was cancelled while the step's call ran: the tokens were spent, so the
 * step's messages (what its client saw) and usage go on the cancelled run, and its hold is settled to
 * that usage, in one transaction where the store can (so `used` still equals the usage runs report).
 * Returns what became of the hold; undefined when the run is not cancelled (a timeout, the function's
 * end, a failure: the step is repeated or the run fails, and its hold is released) or the write failed:
 * then nothing is recorded or charged.
 *
 * @example
 * const settled = await recordOnCancelledRun(state, step, [{ role: 'assistant', content: text }], reservation);
 */
export const recordOnCancelledRun = async (
  state: RunState,
  step: RunStep,
  messages: NewMessage[],
  reservation: TokenReservation,
): Promise<SettleResult | undefined> => {
  const { deps, runId, lastMessageId } = state;
  const all = [...state.steps, step];
  try {
    const appended = await appendMessages(
      deps,
      state.tenantId,
      state.session.id,
      { append_id: `${runId}:step-${step.index}`, messages },
      {
        ...(lastMessageId !== undefined && { known: { lastMessageId } }),
        runTransition: {
          runId,
          from: ['cancelled'],
          changes: { status: 'cancelled', updated_at: step.created_at, steps: all, usage: sumUsage(all) },
        },
        ...(!reservation.unlimited && { settle: { hold: reservation, used: step.usage.total_tokens } }),
      },
    );
    if (!appended.transitioned) return undefined;
    return appended.settled ?? (await settleTokens(deps, reservation, step.usage.total_tokens));
  } catch {
    // Not cancelled (RunStateConflictError), or the write failed: nothing is recorded, nothing charged.
    return undefined;
  }
};
