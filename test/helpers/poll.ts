// Test helper: a bounded wait for the local platform's asynchronous work (queues, workers, logs).

/**
 * Reads until `done` holds or the attempts run out (60 s by default), and returns the last value read:
 * the caller asserts on it, so a timeout fails as a wrong value, never as a timing assertion.
 *
 * @example
 * const run = await pollUntil(() => getRun(id), (run) => run.status === 'completed');
 * expect(run.status).toBe('completed');
 */
export const pollUntil = async <T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  attempts = 120,
  intervalMs = 500,
): Promise<T> => {
  let value = await read();
  for (let attempt = 0; attempt < attempts && !done(value); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    value = await read();
  }
  return value;
};
