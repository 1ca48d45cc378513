// Use case helper: what one invocation of the agent loop carries from step to step (the run as far as
// it got, whether an inline turn is on record yet), and the small moves every step may make with it.
// Vocabulary: docs/glossary.md
import type { TenanticError } from '../errors';
import type { Hold } from '../ports/quota-ledger';
import { runSlotHold } from '../quotas/acquire-run-slot';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { settleTokens } from '../quotas/settle-tokens';
import { RunStateConflictError } from '../sessions/errors';
import { toMessageResource, toRunResource } from '../sessions/model';
import type { RunError, RunRecord, RunStep, SessionRecord } from '../sessions/schemas';
import { updateRunStatus } from '../sessions/update-run-status';
import type { ExecuteRunInput, ExecuteRunOutcome, PendingTurn } from './execute-run';
import { type ChatDeps, HARD_MAX_STEPS, nowMs, quotasOf } from './model';
import { type StepPlan, stepPlan } from './step-plan';

/** Work a run starts beside its steps, awaited before it returns. */
export interface Background {
  /** The session's compaction request (compact-session.ts): never fails the run. */
  compaction?: Promise<unknown>;
}

/** One invocation of a run, passed to each step; the mutable fields change as steps are recorded. */
export interface RunState {
  readonly deps: ChatDeps;
  readonly input: ExecuteRunInput;
  readonly tenantId: string;
  readonly runId: string;
  readonly session: SessionRecord;
  /** The run as far as this invocation knows it. */
  run: RunRecord;
  /** The run's recorded steps, this invocation's included (pushed as each is recorded). */
  readonly steps: RunStep[];
  /** The index of this invocation's first step: its history is the caller's (`input.history`). */
  readonly firstIndex: number;
  readonly pending: PendingTurn | undefined;
  /** The run and the user's message are on record (always, but for an inline turn before its first write). */
  saved: boolean;
  /** The first step's reservation (and the slot beside it) was granted: the turn was admitted. */
  admitted: boolean;
  /**
   * The session's last message id when this invocation knows it (it wrote it, or the inline turn's caller
   * just read it): the next append needs no session read.
   */
  lastMessageId: string | null | undefined;
  readonly plan: StepPlan;
  /** The tenant's `tokens_per_month` (null: unlimited). */
  readonly tokenLimit: number | null;
  readonly maxSteps: number;
  /** Epoch ms when the run's time budget ends. */
  readonly runDeadline: number;
  /** The run's concurrent-run slot (held since its admission), given back when the run ends. */
  readonly slot: Hold | undefined;
  readonly background: Background;
}

/**
 * The state of an in-progress run at the start of this invocation: the tenant's limits, the step plan,
 * and what an inline turn's caller already knows.
 *
 * @example
 * const state = runState(deps, input, { run, session }, {});
 */
export const runState = (
  deps: ChatDeps,
  input: ExecuteRunInput,
  opened: { readonly run: RunRecord; readonly session: SessionRecord },
  background: Background,
): RunState => {
  const { run, session } = opened;
  const quotas = quotasOf(deps, input.tenant);
  return {
    deps,
    input,
    tenantId: input.tenant.id,
    runId: input.runId,
    session,
    run,
    steps: [...run.steps],
    firstIndex: run.steps.length,
    pending: input.pending,
    saved: input.pending === undefined,
    admitted: false,
    lastMessageId: input.pending ? session.last_message_id : undefined,
    plan: stepPlan(deps, input.tenant, session, run.model),
    tokenLimit: quotas.tokens_per_month,
    maxSteps: Math.min(quotas.max_steps_per_run ?? HARD_MAX_STEPS, HARD_MAX_STEPS),
    runDeadline: (run.started_at ?? Math.floor(nowMs(deps) / 1000)) * 1000 + deps.timeouts.runBudgetMs,
    slot: quotas.concurrent_runs === null ? undefined : runSlotHold(input.tenant.id, input.runId),
    background,
  };
};

/**
 * Puts an inline turn's run and user's message on record if its first step has not (a hand-off or a
 * failure before any step is recorded).
 *
 * @example
 * await ensureSaved(state);
 */
export const ensureSaved = async (state: RunState): Promise<void> => {
  if (state.saved || !state.pending) return;
  state.lastMessageId = await state.pending.save();
  state.saved = true;
};

/**
 * Gives the run's concurrent-run slot back (the run ended outside a step's transaction).
 *
 * @example
 * await releaseSlot(state);
 */
export const releaseSlot = async (state: RunState): Promise<void> => {
  if (state.slot) await state.deps.ledger.release(state.slot);
};

/**
 * Ends the run as failed with its steps so far, and gives its slot back; another writer's end stands.
 *
 * @example
 * return failRun(state, maxStepsError(state.maxSteps));
 */
export const failRun = async (
  state: RunState,
  runError: RunError,
  cause?: TenanticError,
): Promise<ExecuteRunOutcome> => {
  const { deps, tenantId, runId } = state;
  try {
    const failed = await updateRunStatus(deps, tenantId, runId, {
      status: 'failed',
      steps: state.steps,
      error: runError,
    });
    await releaseSlot(state);
    return { status: 'failed', run: failed, ...(cause && { error: cause }) };
  } catch (error) {
    if (error instanceof RunStateConflictError) return finalOutcome(deps, tenantId, runId);
    throw error;
  }
};

/**
 * The run as another writer left it (cancelled, or finished by a concurrent delivery).
 *
 * @example
 * if (isFinalRunStatus(run.status)) return finalOutcome(deps, tenant.id, runId);
 */
export const finalOutcome = async (
  deps: ChatDeps,
  tenantId: string,
  runId: string,
): Promise<ExecuteRunOutcome> => {
  const run = await deps.store.getRun(tenantId, runId);
  if (!run) return { status: 'gone' };
  if (run.status === 'completed') {
    const page = await deps.store.listMessages(tenantId, run.session_id, { limit: 1, order: 'desc' });
    const last = page.items[0];
    if (last) return { status: 'completed', run: toRunResource(run), message: toMessageResource(last) };
  }
  if (run.status === 'cancelled' || run.status === 'failed')
    return { status: run.status, run: toRunResource(run) };
  return { status: 'handoff', run: toRunResource(run) };
};

/**
 * A crash may have come between recording the run's last step and settling it: settling again is a no-op.
 *
 * @example
 * await settleLastStep(deps, run);
 */
export const settleLastStep = async (deps: ChatDeps, run: RunRecord): Promise<void> => {
  const last = run.steps.at(-1);
  if (last?.reservation) {
    await settleTokens(deps, last.reservation as unknown as TokenReservation, last.usage.total_tokens);
  }
};

/** The handoff outcome: the run on record as far as this invocation got. */
export const handoff = (state: RunState): ExecuteRunOutcome => ({
  status: 'handoff',
  run: toRunResource({ ...state.run, steps: state.steps }),
});

/** What a step keeps of its hold, so a run resumed after a crash can settle it (never shown). */
export const heldBy = (reservation: TokenReservation): Pick<RunStep, 'reservation'> =>
  reservation.unlimited ? {} : { reservation: { ...reservation } as Record<string, unknown> };

/** A domain error as the run records it. */
export const errorOf = (error: TenanticError): RunError => {
  const { error: body } = error.toJSON();
  return { type: body.type, code: body.code, message: body.message, param: body.param ?? null };
};

/** Why a run that still calls tools on its last allowed step fails. */
export const maxStepsError = (maxSteps: number): RunError => ({
  type: 'invalid_request_error',
  code: 'max_steps_exceeded',
  message: `The run reached the tenant's limit of ${maxSteps} step(s) without a final answer`,
  param: null,
});
