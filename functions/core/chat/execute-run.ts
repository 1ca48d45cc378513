// Use case: the agent loop. It runs (or resumes) a run step by step: context → metered LLM call → tools
// → the step's messages and usage on record, until the model answers, the steps or the time run out, or
// the run is cancelled. Every write is keyed by the run and step, so a redelivered job repeats nothing.
import type { TenanticError } from '../errors';
import type { ChatDelta, ChatMessage } from '../llm/types';
import type { RequestMeter } from '../quotas/request-meter';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { RunNotFoundError, RunStateConflictError } from '../sessions/errors';
import { isFinalRunStatus } from '../sessions/run-transitions';
import type { MessageResource, NewMessage, RunRecord, RunResource, SessionRecord } from '../sessions/schemas';
import { updateRunStatus } from '../sessions/update-run-status';
import type { TenantRecord } from '../tenants/schemas';
import type { Alongside } from './metered-step';
import { type ChatDeps, nowMs } from './model';
import {
  type Background,
  ensureSaved,
  failRun,
  finalOutcome,
  maxStepsError,
  runState,
  settleLastStep,
} from './run-state';
import { takeStep } from './take-step';

export { MAX_TOOL_CALLS_PER_STEP } from './record-step';

export interface ExecuteRunInput {
  readonly tenant: TenantRecord;
  readonly runId: string;
  /**
   * Inline (sync) execution: at this time (epoch ms) the loop stops, aborting an LLM call in flight, and
   * reports `handoff` so the caller can queue the rest. Absent on the worker, which runs to the end.
   */
  readonly handoffAtMs?: number;
  /** The caller's cancellation (the worker: shortly before the function times out). */
  readonly signal?: AbortSignal;
  /** Live deltas of each step (the WebSocket path); steps are then streamed rather than completed. */
  readonly onDelta?: (delta: ChatDelta, step: number) => void | Promise<void>;
  /** A step's messages once they are on record (the WebSocket's tool.call / tool.result frames). */
  readonly onStepRecorded?: (messages: readonly MessageResource[], step: number) => void | Promise<void>;
  /** Already read by the caller: saves reads on the inline path. */
  readonly run?: RunRecord;
  readonly session?: SessionRecord;
  /**
   * Inline start: `run` and the user's message are not on record yet. The first step takes the run's
   * concurrent-run slot beside its token reservation (one round trip), and its transaction writes the
   * run, the user's message and the step together: a simple turn makes one write. Whatever refuses the
   * turn before that (a budget, a rate, a slot, a message too long for the context) is thrown with
   * nothing written; if the invocation dies before that write, nothing is on record to resume (the client
   * saw no answer and asks again) and the two holds, taken with leases that only outlive the invocation,
   * come back by themselves.
   */
  readonly pending?: PendingTurn;
  /** The session's history as the caller just read it with `session`: the first step reads none. */
  readonly history?: ChatMessage[];
  /** With `history`: the window's compaction edge, when older turns fell out of it (session-window.ts). */
  readonly compactBefore?: string;
  /** The request's admission (inline): counted by the first step's reservation, in the same write. */
  readonly meter?: RequestMeter;
}

export interface PendingTurn {
  /** The user's message as it is recorded (with the run's id). */
  readonly userMessage: NewMessage;
  /** The run's concurrent-run slot, taken beside the first reservation (absent: unlimited runs, or held). */
  readonly slot?: Alongside;
  /**
   * The first step's reservation when the turn was admitted before its context was known (its slot is
   * then held already): given the step's worst case, the hold, grown to it if need be.
   */
  readonly reserve?: (tokens: number) => Promise<TokenReservation>;
  /** The lease of the first step's reservation: long enough to outlive this invocation, no longer. */
  readonly leaseSeconds: number;
  /**
   * Runs before the run is first on record unfinished (a first step that calls tools), beside the tools:
   * the run's recovery job is queued and its slot's lease made a run's.
   */
  readonly beforeUnfinished: () => Promise<void>;
  /**
   * Records the run and the user's message alone, after `beforeUnfinished`'s work (a hand-off, or a failure,
   * before any step is on record); returns the session's new last message id.
   */
  readonly save: () => Promise<string>;
}

export type ExecuteRunOutcome =
  | { readonly status: 'completed'; readonly run: RunResource; readonly message: MessageResource }
  /** `error`: what failed the run in this invocation (the caller may answer with it: a 429, say). */
  | { readonly status: 'failed' | 'cancelled'; readonly run: RunResource; readonly error?: TenanticError }
  /** The inline deadline came first: the run is on record as far as it got; queue the rest. */
  | { readonly status: 'handoff'; readonly run: RunResource }
  /** The run or its session is gone (deleted): nothing to do. */
  | { readonly status: 'gone' };

/**
 * Runs a run until it ends or the inline deadline passes. Idempotency keys, so redelivery repeats
 * nothing: the step's reservation id and message append id are both `<runId>:step-<n>`, a step counts
 * as done once it is in `run.steps`, and completion is a conditional transition (in_progress → completed).
 * Per step: one history query (none on the first step inline), one reserve, the LLM call, tools inline,
 * and one transaction with the step's messages, the run's progress and the settle of the reservation.
 * The steps: `openRun` → `settleLastStep` → `takeStep` (take-step.ts, recording with record-step.ts)
 * until one ends the run → out of steps, `failRun`.
 *
 * @example
 * const outcome = await executeRun(deps, { tenant, runId, handoffAtMs: Date.now() + 20_000 });
 * if (outcome.status === 'handoff') await deps.jobs.enqueue(runExecuteJob(tenant.id, runId, sessionId));
 */
export const executeRun = async (deps: ChatDeps, input: ExecuteRunInput): Promise<ExecuteRunOutcome> => {
  const background: Background = {};
  try {
    return await runSteps(deps, input, background);
  } finally {
    // A compaction request started beside the first step ends before the invocation does.
    await background.compaction;
  }
};

const runSteps = async (
  deps: ChatDeps,
  input: ExecuteRunInput,
  background: Background,
): Promise<ExecuteRunOutcome> => {
  const opened = await openRun(deps, input);
  if ('status' in opened) return opened;
  await settleLastStep(deps, opened.run);
  const state = runState(deps, input, opened, background);
  for (let index = state.firstIndex; index < state.maxSteps; index += 1) {
    const outcome = await takeStep(state, index);
    if (outcome) return outcome;
  }
  await ensureSaved(state);
  return failRun(state, maxStepsError(state.maxSteps));
};

/**
 * The run and its session, the run moved to in_progress if it was not: or the outcome when there is
 * nothing to run (gone, or ended by another writer).
 */
const openRun = async (
  deps: ChatDeps,
  input: ExecuteRunInput,
): Promise<ExecuteRunOutcome | { readonly run: RunRecord; readonly session: SessionRecord }> => {
  const { tenant, runId } = input;
  const run = input.run ?? (await deps.store.getRun(tenant.id, runId));
  if (!run) return { status: 'gone' };
  if (isFinalRunStatus(run.status)) return finalOutcome(deps, tenant.id, runId);
  const session = input.session ?? (await deps.store.getSession(tenant.id, run.session_id));
  if (!session) return { status: 'gone' };
  if (run.status === 'in_progress') return { run, session };
  try {
    await updateRunStatus(deps, tenant.id, runId, { status: 'in_progress' });
  } catch (error) {
    if (error instanceof RunStateConflictError) return finalOutcome(deps, tenant.id, runId);
    if (error instanceof RunNotFoundError) return { status: 'gone' };
    throw error;
  }
  const started_at = run.started_at ?? Math.floor(nowMs(deps) / 1000);
  return { run: { ...run, status: 'in_progress', started_at }, session };
};
