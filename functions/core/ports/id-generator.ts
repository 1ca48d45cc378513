// Port: new resource ids, injected so tests can predict them.
import { type IdPrefix, newId } from '../ids';

/**
 * @example
 * const ids: IdGenerator = { newId: (prefix) => `${prefix}_test1` };
 */
export interface IdGenerator {
  newId(prefix: IdPrefix): string;
}

export const randomIds = (clock: { now(): Date }): IdGenerator => ({
  newId: (prefix) => newId(prefix, clock.now().getTime()),
});
