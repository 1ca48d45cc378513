// Unit: recordTurn, the write of a turn's run and user's message. A message that lands in the session
// after the turn read it makes the write conflict: the turn reads the session again (one read), picks
// ids after that message and tries again, up to five writes; a turn that keeps losing gives its
// reservation back.
import { describe, expect, it } from 'vitest';
import { sendMessage } from '../../../functions/core/chat/send-message';
import { SessionBusyError } from '../../../functions/core/sessions/errors';
import { chatSetup, tokenCounter } from './fakes';

describe('recordTurn', () => {
  it('records after a message that landed since the session was read, with one more read', async () => {
    const setup = await chatSetup([], { quotas: { concurrent_runs: 5 } });
    const { deps, tenant, session, store } = setup;
    // The turn read the session before another turn's message landed.
    const stale = { session: structuredClone(session), history: [] };
    await sendMessage(deps, tenant, session.id, { content: 'landed first', async: true });
    store.calls.length = 0;

    const sent = await sendMessage(
      deps,
      tenant,
      session.id,
      { content: 'read before', async: true },
      {
        loaded: stale,
      },
    );

    const messages = store.messages.get(`${tenant.id}/${session.id}`) ?? [];
    expect(sent.status).toBe(202);
    expect(messages.map((message) => message.content)).toEqual(['landed first', 'read before']);
    expect(store.calls.filter((call) => call === 'createRun' || call === 'getSession')).toEqual([
      'createRun',
      'getSession',
      'createRun',
    ]);
  });

  it('gives up after five writes and releases the first step reservation', async () => {
    const setup = await chatSetup([], { quotas: { concurrent_runs: 5 } });
    const { deps, tenant, session, store, ledger } = setup;
    let writes = 0;
    store.createRun = async () => {
      writes += 1;
      throw new SessionBusyError(session.id);
    };

    const failed = await sendMessage(deps, tenant, session.id, { content: 'never lands', async: true }).catch(
      (error: unknown) => error,
    );

    expect(failed).toBeInstanceOf(SessionBusyError);
    expect(writes).toBe(5);
    expect(tokenCounter(ledger).reserved).toBe(0);
    expect(store.runs.size).toBe(0);
  });
});
