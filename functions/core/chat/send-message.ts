// Use case: `POST /v1/sessions/{id}/messages`: record the user's message and a run, then answer inline
// when the run finishes before the sync deadline, or continue it on the chat-runs queue (202).
import { NotFoundError, TenanticError } from '../errors';
import { appendMessages } from '../sessions/append-messages';
import { SessionNotFoundError } from '../sessions/errors';
import { toRunResource, unixSeconds } from '../sessions/model';
import type { RunRecord } from '../sessions/schemas';
import type { TenantRecord } from '../tenants/schemas';
import { executeRun } from './execute-run';
import { type ChatDeps, nowMs } from './model';
import { runExecuteEnvelope } from './run-execute-job';
import type { SendMessageRequest, SendMessageResult } from './schemas';

export interface SentMessage {
  /** 200: the run finished in time; 202: it continues on the queue. */
  readonly status: 200 | 202;
  readonly result: SendMessageResult;
}

/**
 * Checks before any write (unknown session → 404, unknown files → 404), then writes the run and the
 * user message (append id `<runId>:user`). Inline, the loop stops at `timeouts.syncDeadlineMs`, aborting
 * an LLM call in flight; what it did is on record and the queued job resumes from there. A run that
 * fails inline answers with its error (429 for an exhausted token budget, 502/504 for the model).
 *
 * @example
 * const { status, result } = await sendMessage(deps, tenant, sessionId, { content: 'What is 2+2?' });
 * // 200 { message: { role: 'assistant', ... }, run: { status: 'completed', ... } }
 */
export const sendMessage = async (
  deps: ChatDeps,
  tenant: TenantRecord,
  sessionId: string,
  body: SendMessageRequest,
): Promise<SentMessage> => {
  const startedAt = nowMs(deps);
  const session = await deps.store.getSession(tenant.id, sessionId);
  if (!session) throw new SessionNotFoundError(sessionId);
  const [firstFile] = body.file_ids ?? [];
  if (firstFile !== undefined) {
    // No file is ever ready before the files routes exist; say so per file rather than ignore them.
    throw new NotFoundError('file_not_found', `No file with id '${firstFile}'`, { param: 'file_ids[0]' });
  }

  const now = unixSeconds(deps.clock.now());
  const run: RunRecord = {
    id: deps.ids.newId('run'),
    tenant_id: tenant.id,
    session_id: sessionId,
    // Inline, the run starts at once: created running, it needs no separate transition write.
    status: body.async ? 'queued' : 'in_progress',
    model: session.model,
    steps: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    error: null,
    created_at: now,
    updated_at: now,
    started_at: body.async ? null : now,
    completed_at: null,
  };
  await deps.store.createRun(run);
  await appendMessages(deps, tenant.id, sessionId, {
    append_id: `${run.id}:user`,
    messages: [{ role: 'user', content: body.content, run_id: run.id }],
  });

  const queue = async (): Promise<SentMessage> => {
    await deps.jobs.enqueue(runExecuteEnvelope(tenant.id, run.id, sessionId));
    const current = (await deps.store.getRun(tenant.id, run.id)) ?? run;
    return { status: 202, result: { run: toRunResource(current) } };
  };
  if (body.async) return queue();

  let outcome: Awaited<ReturnType<typeof executeRun>>;
  try {
    outcome = await executeRun(deps, {
      tenant,
      runId: run.id,
      run,
      session,
      handoffAtMs: startedAt + deps.timeouts.syncDeadlineMs,
    });
  } catch (error) {
    // The store failed mid-run: the worker retries from the steps on record.
    if (error instanceof TenanticError && error.statusCode < 500) throw error;
    return queue();
  }
  switch (outcome.status) {
    case 'completed':
      return { status: 200, result: { message: outcome.message, run: outcome.run } };
    case 'handoff':
      return queue();
    case 'gone':
      throw new SessionNotFoundError(sessionId);
    default:
      if (outcome.error) throw outcome.error;
      return { status: 200, result: { run: outcome.run } };
  }
};
