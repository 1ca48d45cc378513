// Port: the current time, injected so use cases and tests agree on "now".

/**
 * @example
 * const clock: Clock = { now: () => new Date() };
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
