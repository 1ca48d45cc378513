// Use case: the agent loop. It runs (or resumes) a run step by step: context → metered LLM call → tools
// → the step's messages and usage on record, until the model answers, the steps or the time run out, or
// the run is cancelled. Every write is keyed by the run and step, so a redelivered job repeats nothing.
import { TenanticError } from '../errors';
import { isLlmError, LlmAbortedError, LlmTimeoutError, LlmUnavailableError } from '../llm/errors';
import type { ChatDelta, ChatMessage, ToolCall, Usage } from '../llm/types';
import type { SettleResult } from '../ports/quota-ledger';
import type { RunChanges } from '../ports/session-store';
import { runSlotHold } from '../quotas/acquire-run-slot';
import { QuotaExceededError } from '../quotas/errors';
import { releaseTokens } from '../quotas/release-tokens';
import type { RequestMeter } from '../quotas/request-meter';
import type { TokenReservation } from '../quotas/reserve-tokens';
import { settleTokens } from '../quotas/settle-tokens';
import { appendMessages, MAX_APPEND_MESSAGES } from '../sessions/append-messages';
import { RunNotFoundError, RunStateConflictError, SessionNotFoundError } from '../sessions/errors';
import { allowedTools, sumUsage, toMessageResource, toRunResource } from '../sessions/model';
import { isFinalRunStatus } from '../sessions/run-transitions';
import type {
  MessageResource,
  NewMessage,
  RunError,
  RunRecord,
  RunResource,
  RunStep,
  SessionRecord,
} from '../sessions/schemas';
import { updateRunStatus } from '../sessions/update-run-status';
import type { TenantRecord } from '../tenants/schemas';
import { buildContext } from './build-context';
import { requestCompactionIfDue } from './compact-session';
import { type Alongside, meteredLlmStep } from './metered-step';
import {
  type ChatDeps,
  HARD_MAX_STEPS,
  loadHistory,
  loadSessionHistory,
  nowMs,
  quotasOf,
  toChatMessage,
} from './model';
import { DEFAULT_STEP_MAX_TOKENS, modelLimits } from './model-limits';

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
 * A step's messages are one append (its tool calls' results, its answer, and an inline turn's question):
 * this many calls still fit.
 */
export const MAX_TOOL_CALLS_PER_STEP = MAX_APPEND_MESSAGES - 2;

/** A step is not started with less time than this left before the inline deadline. */
const MIN_STEP_MS = 1_000;
/** Abort an inline call at the hand-off time, but give the LLM client a later deadline so a slow upstream
 * is aborted (our decision, no fallback) rather than timed out (its fault: the rule-based answer). */
const DEADLINE_SLACK_MS = 1_000;

/** What a step keeps of its hold, so a run resumed after a crash can settle it (never shown). */
const heldBy = (reservation: TokenReservation): Pick<RunStep, 'reservation'> =>
  reservation.unlimited ? {} : { reservation: { ...reservation } as Record<string, unknown> };

const errorOf = (error: TenanticError): RunError => {
  const { error: body } = error.toJSON();
  return { type: body.type, code: body.code, message: body.message, param: body.param ?? null };
};

const toolResult = async (
  deps: ChatDeps,
  call: ToolCall,
  offered: ReadonlySet<string>,
  context: { tenantId: string; signal?: AbortSignal },
): Promise<string> => {
  if (!offered.has(call.function.name)) {
    return JSON.stringify({
      error: { code: 'tool_not_available', message: `no tool named '${call.function.name}' is available` },
    });
  }
  try {
    const output = await deps.tools.invoke(call.function.name, call.function.arguments, {
      now: () => nowMs(deps),
      tenantId: context.tenantId,
      ...(context.signal && { signal: context.signal }),
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
 * Runs a run until it ends or the inline deadline passes. Idempotency keys, so redelivery repeats
 * nothing: the step's reservation id and message append id are both `<runId>:step-<n>`, a step counts
 * as done once it is in `run.steps`, and completion is a conditional transition (in_progress → completed).
 * Per step: one history query (none on the first step inline), one reserve, the LLM call, tools inline,
 * and one transaction with the step's messages, the run's progress and the settle of the reservation.
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

/** Work a run starts beside its steps, awaited before it returns. */
interface Background {
  /** The session's compaction request (compact-session.ts): never fails the run. */
  compaction?: Promise<unknown>;
}

const runSteps = async (
  deps: ChatDeps,
  input: ExecuteRunInput,
  background: Background,
): Promise<ExecuteRunOutcome> => {
  const { tenant, runId } = input;
  let run = input.run ?? (await deps.store.getRun(tenant.id, runId));
  if (!run) return { status: 'gone' };
  if (isFinalRunStatus(run.status)) return finalOutcome(deps, tenant.id, runId);
  const session = input.session ?? (await deps.store.getSession(tenant.id, run.session_id));
  if (!session) return { status: 'gone' };

  if (run.status !== 'in_progress') {
    try {
      await updateRunStatus(deps, tenant.id, runId, { status: 'in_progress' });
    } catch (error) {
      if (error instanceof RunStateConflictError) return finalOutcome(deps, tenant.id, runId);
      if (error instanceof RunNotFoundError) return { status: 'gone' };
      throw error;
    }
    run = { ...run, status: 'in_progress', started_at: run.started_at ?? Math.floor(nowMs(deps) / 1000) };
  }

  const pending = input.pending;
  let saved = pending === undefined;
  /** The first step's reservation (and the slot beside it) was granted: the turn was admitted. */
  let admitted = false;
  /**
   * The session's last message id when this invocation knows it (it wrote it, or the inline turn's caller
   * just read it): the next append needs no session read.
   */
  let lastMessageId: string | null | undefined = pending ? session.last_message_id : undefined;
  const ensureSaved = async () => {
    if (saved || !pending) return;
    lastMessageId = await pending.save();
    saved = true;
  };

  const steps: RunStep[] = [...run.steps];
  const last = steps.at(-1);
  if (last?.reservation) {
    // A crash may have come between recording the last step and settling it: settling again is a no-op.
    await settleTokens(deps, last.reservation as unknown as TokenReservation, last.usage.total_tokens);
  }

  const quotas = quotasOf(deps, tenant);
  const maxSteps = Math.min(quotas.max_steps_per_run ?? HARD_MAX_STEPS, HARD_MAX_STEPS);
  const runDeadline = (run.started_at ?? Math.floor(nowMs(deps) / 1000)) * 1000 + deps.timeouts.runBudgetMs;
  const { limits, maxTokens, offered, tools } = stepPlan(deps, tenant, session, run.model);

  // The run's concurrent-run slot (held since its admission) goes back when the run ends: with the
  // last step's transaction, or after a failing transition.
  const slot = quotas.concurrent_runs === null ? undefined : runSlotHold(tenant.id, runId);
  const releaseSlot = async () => {
    if (slot) await deps.ledger.release(slot);
  };

  const fail = async (runError: RunError, cause?: TenanticError): Promise<ExecuteRunOutcome> => {
    try {
      const failed = await updateRunStatus(deps, tenant.id, runId, {
        status: 'failed',
        steps,
        error: runError,
      });
      await releaseSlot();
      return { status: 'failed', run: failed, ...(cause && { error: cause }) };
    } catch (error) {
      if (error instanceof RunStateConflictError) return finalOutcome(deps, tenant.id, runId);
      throw error;
    }
  };

  // The caller's history is what the session held before this invocation's first step: later steps read
  // the session again, which then holds that step's messages.
  const firstIndex = steps.length;
  for (let index = firstIndex; index < maxSteps; index += 1) {
    const now = nowMs(deps);
    if (input.handoffAtMs !== undefined && now >= input.handoffAtMs - MIN_STEP_MS) {
      await ensureSaved();
      return { status: 'handoff', run: toRunResource({ ...run, steps }) };
    }
    if (now >= runDeadline) {
      await ensureSaved();
      return fail({
        type: 'upstream_error',
        code: 'run_time_budget_exceeded',
        message: `The run used its time budget of ${deps.timeouts.runBudgetMs} ms after ${steps.length} step(s)`,
        param: null,
      });
    }

    let history: ChatMessage[];
    if (index > firstIndex) history = await loadHistory(deps, tenant.id, session.id, limits.contextTokens);
    else {
      // The first step's read says whether older turns fell out of the window unhandled: if so, a
      // compaction is requested beside the step (one conditional write and a queued job, off the critical
      // path: the step's write waits for it only so the two never race on the session item).
      const found = input.history
        ? { session, history: input.history, compactBefore: input.compactBefore }
        : await loadSessionHistory(deps, tenant.id, session.id, limits.contextTokens);
      if (!found) throw new SessionNotFoundError(session.id);
      history = [...found.history];
      background.compaction ??= requestCompactionIfDue(
        deps,
        tenant.id,
        found.session,
        found.compactBefore,
      ).catch(() => false);
    }
    if (!saved && pending) history.push(toChatMessage(pending.userMessage));
    const lastAllowed = index === maxSteps - 1;
    let messages: ChatMessage[];
    try {
      ({ messages } = buildContext({
        systemPrompt: session.system_prompt,
        history,
        ...(tools && { tools }),
        contextTokens: limits.contextTokens,
        maxTokens,
      }));
    } catch (error) {
      if (error instanceof TenanticError && saved) return fail(errorOf(error));
      throw error;
    }

    const abort = new AbortController();
    const onCallerAbort = () => abort.abort();
    input.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer =
      input.handoffAtMs === undefined
        ? undefined
        : setTimeout(() => abort.abort(), Math.max(0, input.handoffAtMs - nowMs(deps)));
    const stepId = `${runId}:step-${index}`;
    let recorded: {
      run: RunRecord | undefined;
      appended: MessageResource[];
      final: boolean;
      cancelled: boolean;
    };
    try {
      const result = await meteredLlmStep(
        deps,
        {
          tenantId: tenant.id,
          tokenLimit: quotas.tokens_per_month,
          reservationId: stepId,
          request: {
            model: run.model,
            messages,
            ...(tools && { tools, ...(lastAllowed && { tool_choice: 'none' as const }) }),
            max_tokens: maxTokens,
            user: tenant.id,
          },
          deadlineMs: Math.min(
            runDeadline,
            input.handoffAtMs === undefined
              ? Number.POSITIVE_INFINITY
              : input.handoffAtMs + DEADLINE_SLACK_MS,
          ),
          signal: abort.signal,
          ...(!saved &&
            pending && {
              leaseSeconds: pending.leaseSeconds,
              ...(pending.reserve
                ? { reserve: pending.reserve }
                : pending.slot && { alongside: pending.slot }),
              onReserved: async () => {
                admitted = true;
              },
            }),
          ...(input.meter && { meter: input.meter }),
          ...(input.onDelta && {
            onDelta: (delta: ChatDelta) => input.onDelta?.(delta, index),
            // A stream cut short by a cancel: the text its client saw is the step's answer, and what the
            // provider streamed is charged (anything else that ends a call mid-stream charges nothing).
            ...(saved && {
              onCutShort: async (partial: { text: string; usage: Usage }, reservation: TokenReservation) =>
                input.signal?.aborted === true &&
                (await recordOnCancelledRun(
                  deps,
                  { tenantId: tenant.id, sessionId: session.id, runId, steps },
                  {
                    index,
                    type: 'message_creation',
                    usage: partial.usage,
                    created_at: Math.floor(nowMs(deps) / 1000),
                    ...heldBy(reservation),
                  },
                  [{ role: 'assistant', content: partial.text, run_id: runId }],
                  { reservation, ...(lastMessageId !== undefined && { lastMessageId }) },
                )) !== undefined,
            }),
          }),
        },
        async (completion, usage, reservation, settledWith) => {
          await background.compaction;
          // An inline turn's first step: the run and the user's message are written with it.
          const first = saved ? undefined : pending;
          const calls = completion.message.tool_calls ?? [];
          if (calls.length > MAX_TOOL_CALLS_PER_STEP) {
            // More than one write can record: the answer is unusable, and the run fails as for any bad
            // answer of the model (the hold goes back: nothing of the step is recorded).
            await releaseTokens(deps, reservation);
            throw new LlmUnavailableError(
              `The model asked for ${calls.length} tool calls in one step; at most ${MAX_TOOL_CALLS_PER_STEP} are run`,
              { code: 'too_many_tool_calls', retryable: false },
            );
          }
          const [results] = await Promise.all([
            Promise.all(
              calls.map((call) =>
                toolResult(deps, call, offered, {
                  tenantId: tenant.id,
                  ...(input.signal && { signal: input.signal }),
                }),
              ),
            ),
            // A step that calls tools leaves the run unfinished on record: its recovery comes first.
            first && calls.length > 0 ? first.beforeUnfinished() : undefined,
          ]);
          const stepMessages: NewMessage[] = [
            {
              role: 'assistant',
              content: completion.message.content ?? (calls.length > 0 ? null : ''),
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
          // Still calling tools on the last step it may take: the run fails, with this step on record.
          const stepOf = (answer: { tool_calls?: readonly ToolCall[] | null } | undefined) => {
            const final = !answer?.tool_calls?.length;
            const exhausted = !final && lastAllowed;
            const step: RunStep = {
              index,
              type: final ? 'message_creation' : 'tool_calls',
              usage,
              ...(!final && { tool_call_ids: (answer?.tool_calls ?? []).map((call) => call.id) }),
              ...(completion.degraded && { degraded: true }),
              created_at: Math.floor(nowMs(deps) / 1000),
              ...heldBy(reservation),
            };
            const changes: RunChanges = {
              status: final ? 'completed' : exhausted ? 'failed' : 'in_progress',
              updated_at: step.created_at,
              ...((final || exhausted) && { completed_at: step.created_at }),
              steps: [...steps, step],
              usage: sumUsage([...steps, step]),
              ...(exhausted && { error: maxStepsError(maxSteps) }),
            };
            return { step, final, changes };
          };
          const proposed = stepOf(stepMessages[0]);
          const recordOf = (changes: RunChanges): RunRecord => ({
            ...(run as RunRecord),
            status: changes.status,
            updated_at: changes.updated_at,
            completed_at: changes.completed_at ?? null,
            steps: changes.steps ?? [],
            usage: changes.usage ?? sumUsage(changes.steps ?? []),
            error: changes.error ?? null,
          });
          try {
            // The step's messages and the run's progress in one transaction (the first inline step: the
            // run itself and the user's message too).
            const appended = await appendMessages(
              deps,
              tenant.id,
              session.id,
              {
                append_id: stepId,
                messages: first ? [first.userMessage, ...stepMessages] : stepMessages,
              },
              {
                ...(lastMessageId !== undefined && { known: { lastMessageId } }),
                ...(first
                  ? { newRun: recordOf(proposed.changes) }
                  : { runTransition: { runId, from: ['in_progress'], changes: proposed.changes } }),
                // The step's charge lands with the step: no separate settle write; the last step gives the
                // run's slot back in the same write.
                ...(!reservation.unlimited && { settle: { hold: reservation, used: usage.total_tokens } }),
                ...(slot && proposed.changes.status !== 'in_progress' && { releaseSlot: slot }),
              },
            );
            if (first) saved = true;
            if (appended.settled) settledWith(appended.settled);
            const recordedStep = appended.messages.slice(first ? 1 : 0);
            const ends = (appended.transitioned ? proposed : stepOf(recordedStep[0])).changes.status;
            if (ends !== 'in_progress' && !appended.slotReleased) await releaseSlot();
            lastMessageId = appended.replayed ? undefined : (appended.messages.at(-1)?.id ?? undefined);
            if (appended.transitioned) {
              steps.push(proposed.step);
              const updated = recordOf(proposed.changes);
              return { run: updated, appended: recordedStep, final: proposed.final, cancelled: false };
            }
            // A replayed append means an earlier attempt of this step got this far: its messages stand,
            // and the run's progress is recorded from them.
            const actual = stepOf(recordedStep[0]);
            const updated = await deps.store.transitionRun(tenant.id, runId, ['in_progress'], actual.changes);
            if (isFinalRunStatus(actual.changes.status)) {
              deps.metrics?.runFinished({ tenantId: tenant.id, status: actual.changes.status });
            }
            steps.push(actual.step);
            return { run: updated, appended: recordedStep, final: actual.final, cancelled: false };
          } catch (error) {
            // Cancelled while the step ran: the tokens were spent, so the step goes on the cancelled run with
            // its charge; the run stays cancelled.
            if (error instanceof RunStateConflictError) {
              const settled =
                error.current === 'cancelled'
                  ? await recordOnCancelledRun(
                      deps,
                      { tenantId: tenant.id, sessionId: session.id, runId, steps },
                      proposed.step,
                      stepMessages,
                      { reservation, ...(lastMessageId !== undefined && { lastMessageId }) },
                    )
                  : undefined;
              if (settled) settledWith(settled);
              return { run: undefined, appended: [], final: proposed.final, cancelled: true };
            }
            throw error;
          }
        },
      );
      recorded = result.persisted;
    } catch (error) {
      if (!saved) {
        // Refused before the call (a 429: the budget, the rate, the slot): nothing written, nothing held.
        if (!admitted) throw error;
        // The inline turn's first step failed or was cut short before its write: the run and the user's
        // message go on record now, so the hand-off resumes from them and a failure is recorded as any.
        await ensureSaved();
      }
      const aborted = error instanceof LlmAbortedError || error instanceof LlmTimeoutError;
      if (aborted && input.handoffAtMs !== undefined && nowMs(deps) >= input.handoffAtMs - MIN_STEP_MS) {
        return { status: 'handoff', run: toRunResource({ ...run, steps }) };
      }
      // The function is about to time out: leave the run as it is for the redelivered job.
      if (aborted && input.signal?.aborted) throw error;
      // The model's failures and an exhausted budget end the run; anything else (the store, a bug) is
      // thrown, leaving the run and the step's reservation as they are for a retry.
      if (isLlmError(error) || error instanceof QuotaExceededError) return fail(errorOf(error), error);
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
      input.signal?.removeEventListener('abort', onCallerAbort);
    }

    if (recorded.appended.length > 0) await input.onStepRecorded?.(recorded.appended, index);
    if (recorded.cancelled) return finalOutcome(deps, tenant.id, runId);
    if (recorded.run) run = recorded.run;
    if (run.status === 'failed') return { status: 'failed', run: toRunResource(run) };
    if (recorded.final) {
      const message = recorded.appended[0] as MessageResource;
      return { status: 'completed', run: toRunResource(run), message };
    }
  }
  await ensureSaved();
  return fail(maxStepsError(maxSteps));
};

/**
 * What every step of a run offers the model: its limits, `max_tokens`, and the tools the tenant may use
 * among the session's. Shared with the async path of send-message, which reserves the first step's
 * tokens before the run is queued.
 *
 * @example
 * const { tools, maxTokens } = stepPlan(deps, tenant, session, session.model);
 */
export const stepPlan = (deps: ChatDeps, tenant: TenantRecord, session: SessionRecord, model: string) => {
  const limits = modelLimits(model);
  const allowed = new Set(allowedTools(tenant, deps.settings));
  const toolNames = (session.tools ?? [...allowed]).filter(
    (name) => allowed.has(name) && deps.tools.get(name) !== undefined,
  );
  return {
    limits,
    maxTokens: Math.min(DEFAULT_STEP_MAX_TOKENS, limits.maxOutputTokens),
    offered: new Set(toolNames),
    tools: toolNames.length > 0 ? deps.tools.toLlmTools(toolNames) : undefined,
  };
};

/**
 * Records a step on a run that was cancelled while the step's call ran: the tokens were spent, so the
 * step's messages (what its client saw) and usage go on the cancelled run, and its hold is settled to
 * that usage, in one transaction where the store can (so `used` still equals the usage runs report).
 * Returns what became of the hold; undefined when the run is not cancelled (a timeout, the function's
 * end, a failure: the step is repeated or the run fails, and its hold is released) or the write failed:
 * then nothing is recorded or charged.
 */
const recordOnCancelledRun = async (
  deps: ChatDeps,
  at: {
    readonly tenantId: string;
    readonly sessionId: string;
    readonly runId: string;
    /** The run's steps before this one. */
    readonly steps: readonly RunStep[];
  },
  step: RunStep,
  messages: NewMessage[],
  known: { readonly reservation: TokenReservation; readonly lastMessageId?: string | null },
): Promise<SettleResult | undefined> => {
  const { reservation } = known;
  const all = [...at.steps, step];
  try {
    const appended = await appendMessages(
      deps,
      at.tenantId,
      at.sessionId,
      { append_id: `${at.runId}:step-${step.index}`, messages },
      {
        ...(known.lastMessageId !== undefined && { known: { lastMessageId: known.lastMessageId } }),
        runTransition: {
          runId: at.runId,
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

const maxStepsError = (maxSteps: number): RunError => ({
  type: 'invalid_request_error',
  code: 'max_steps_exceeded',
  message: `The run reached the tenant's limit of ${maxSteps} step(s) without a final answer`,
  param: null,
});

/** The run as another writer left it (cancelled, or finished by a concurrent delivery). */
const finalOutcome = async (deps: ChatDeps, tenantId: string, runId: string): Promise<ExecuteRunOutcome> => {
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
