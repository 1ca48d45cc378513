// Test fakes for the chat use cases: a scripted LLM that can call tools, a recording job queue, and
// deps wired from the in-memory session, tenant and quota fakes.

import type { ChatDeps } from '../../../functions/core/chat/model';
import type { JobEnvelope } from '../../../functions/core/jobs/schemas';
import { completionToDeltas } from '../../../functions/core/llm/deltas';
import type {
  ChatCompletion,
  ChatDelta,
  ChatRequest,
  LlmCallOptions,
  Usage,
} from '../../../functions/core/llm/types';
import type { JobQueue } from '../../../functions/core/ports/job-queue';
import type { LlmClient } from '../../../functions/core/ports/llm-client';
import type { QuotaOverrides } from '../../../functions/core/quotas/schemas';
import type { SessionRecord } from '../../../functions/core/sessions/schemas';
import { createBuiltinToolRegistry } from '../../../functions/core/tools/builtin';
import { InMemoryQuotaLedger } from '../../helpers/quota-fakes';
import { InMemorySessionStore, sessionDeps } from '../../helpers/session-fakes';
import { seedSampleTenant, tenantDeps } from '../../helpers/tenant-fakes';

export interface Turn {
  text?: string;
  calls?: { name: string; arguments: string; id?: string }[];
  usage?: Usage;
  /** Thrown instead of answering. */
  error?: unknown;
  /** Runs before the answer (advance the clock, cancel the run, ...). */
  before?: (request: ChatRequest, options: LlmCallOptions | undefined) => void | Promise<void>;
  degraded?: boolean;
}

export const USAGE: Usage = { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 };

/** Plays turns in order, one per call; records every request. */
class ScriptedChatLlm implements LlmClient {
  readonly requests: ChatRequest[] = [];
  constructor(readonly turns: Turn[]) {}

  async complete(request: ChatRequest, options?: LlmCallOptions): Promise<ChatCompletion> {
    this.requests.push(structuredClone(request));
    const turn = this.turns.shift();
    if (!turn) throw new Error('ScriptedChatLlm: no turn left');
    await turn.before?.(request, options);
    if (turn.error) throw turn.error;
    const calls = (turn.calls ?? []).map((call, index) => ({
      id: call.id ?? `call_${this.requests.length}_${index}`,
      type: 'function' as const,
      function: { name: call.name, arguments: call.arguments },
    }));
    return {
      id: `chatcmpl-fake-${this.requests.length}`,
      created: 1_795_000_000,
      provider: turn.degraded ? 'rule-based' : 'fake',
      model: request.model,
      degraded: turn.degraded ?? false,
      message: {
        role: 'assistant',
        content: turn.text ?? (calls.length ? null : ''),
        ...(calls.length > 0 && { tool_calls: calls }),
      },
      finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
      usage: turn.usage ?? USAGE,
    };
  }

  async *stream(request: ChatRequest, options?: LlmCallOptions): AsyncGenerator<ChatDelta> {
    yield* completionToDeltas(await this.complete(request, options));
  }
}

export class RecordingJobQueue implements JobQueue {
  readonly enqueued: JobEnvelope[] = [];
  /** The delay each job was sent with, by position (undefined: at once). */
  readonly delays: (number | undefined)[] = [];
  async enqueue(envelope: JobEnvelope, options?: { readonly delaySeconds?: number }): Promise<void> {
    this.enqueued.push(structuredClone(envelope));
    this.delays.push(options?.delaySeconds);
  }
}

export const tokenCounter = (ledger: InMemoryQuotaLedger) => {
  const entry = [...ledger.counters.entries()].find(([key]) => key.includes('tokens_per_month'));
  return { used: entry?.[1].used ?? 0, reserved: entry?.[1].reserved ?? 0 };
};

/** The concurrent-run slots held on the tenant's `concurrent_runs` gauge right now. */
export const slotHolds = (ledger: InMemoryQuotaLedger) =>
  [...ledger.counters.entries()]
    .filter(([key]) => key.includes('concurrent_runs'))
    .flatMap(([, counter]) => [...counter.holds.values()]);

/** How many concurrent-run slots are held right now. */
export const slotsHeld = (ledger: InMemoryQuotaLedger): number => slotHolds(ledger).length;

/** A tenant, a session and chat deps over in-memory fakes. */
export const chatSetup = async (
  turns: Turn[] = [],
  options: {
    quotas?: QuotaOverrides;
    models?: string[] | null;
    /** The tenant's own default model (absent: none, the stage's applies). */
    defaultModel?: string;
    session?: Partial<SessionRecord>;
    timeouts?: Partial<ChatDeps['timeouts']>;
  } = {},
) => {
  const tenants = tenantDeps();
  const sample = await seedSampleTenant(tenants.store);
  const stored = tenants.store.tenants.get(sample.tenantId);
  if (!stored) throw new Error('seed failed');
  stored.quota_overrides = options.quotas ?? {};
  stored.models = options.models ?? null;
  if (options.defaultModel !== undefined) stored.default_model = options.defaultModel;
  const tenant = structuredClone(stored);
  const ledger = new InMemoryQuotaLedger();
  const sessions = sessionDeps(new InMemorySessionStore(ledger));
  const llm = new ScriptedChatLlm(turns);
  const jobs = new RecordingJobQueue();
  const deps: ChatDeps = {
    ...sessions,
    ledger,
    llm,
    tools: createBuiltinToolRegistry(),
    jobs,
    timeouts: {
      syncDeadlineMs: 20_000,
      runBudgetMs: 100_000,
      completionDeadlineMs: 25_000,
      ...options.timeouts,
    },
  };
  const now = Math.floor(sessions.clock.now().getTime() / 1000);
  const session: SessionRecord = {
    id: sessions.ids.newId('ses'),
    tenant_id: tenant.id,
    title: null,
    model: 'gpt-4o-mini',
    system_prompt: 'You are terse.',
    tools: null,
    metadata: {},
    created_at: now,
    updated_at: now,
    last_message_id: null,
    ...options.session,
  };
  await sessions.store.createSession(session);
  return {
    deps,
    tenant,
    tenants,
    session,
    ledger,
    llm,
    jobs,
    store: sessions.store,
    clock: sessions.clock,
    sample,
  };
};

/** A chat-completions body as the OpenAI client sends it (parsed by the same schema the route uses). */
