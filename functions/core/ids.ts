// Core: resource ids that are prefixed (`ten_`), sortable by creation time and unguessable.
import { randomBytes } from 'node:crypto';

// Crockford base32 in ascending ASCII order, so string order equals time order.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const TIME_CHARS = 10; // 50 bits of milliseconds: enough until the year 37000
const RANDOM_CHARS = 16; // 80 random bits

export type IdPrefix = 'ten' | 'key' | 'ses' | 'msg' | 'run';

/** Matches an id with the given prefix, and nothing else. */
export const idPattern = (prefix: IdPrefix): RegExp =>
  new RegExp(`^${prefix}_[${ALPHABET}]{${TIME_CHARS + RANDOM_CHARS}}$`);

const encodeTime = (ms: number): string => {
  let value = Math.max(0, Math.floor(ms));
  let out = '';
  for (let i = 0; i < TIME_CHARS; i += 1) {
    out = ALPHABET[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
};

const randomChars = (count: number): string => {
  const bytes = randomBytes(count);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 31];
  return out;
};

/**
 * A ULID-like id: time first (sortable), then 80 random bits.
 *
 * @example
 * newId('ten', Date.now()); // 'ten_01jd3x5k0m7q8r9s2t4v6w8y0z'
 */
export const newId = (prefix: IdPrefix, nowMs: number): string =>
  `${prefix}_${encodeTime(nowMs)}${randomChars(RANDOM_CHARS)}`;

/**
 * The creation time (epoch ms) an id carries; undefined for a string that is not one of our ids.
 *
 * @example
 * timeOfId(newId('msg', 1_700_000_000_000)); // 1700000000000
 */
export const timeOfId = (id: string): number | undefined => {
  const match = /^[a-z]+_([0-9a-hjkmnp-tv-z]{10})[0-9a-hjkmnp-tv-z]{16}$/.exec(id);
  if (!match?.[1]) return undefined;
  let value = 0;
  for (const char of match[1]) value = value * 32 + ALPHABET.indexOf(char);
  return value;
};
