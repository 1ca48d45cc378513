// Core: the tenant API key format `tk_<stage>_<random><checksum>`, its hash and its display prefix.
// The checksum lets a malformed or mistyped key be refused before any database lookup.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_RANDOM_CHARS = 40; // ~238 bits
export const KEY_CHECKSUM_CHARS = 6;
const KEY_PATTERN = new RegExp(
  `^tk_([a-z][a-z0-9-]{0,30})_([0-9A-Za-z]{${KEY_RANDOM_CHARS + KEY_CHECKSUM_CHARS}})$`,
);
const PREFIX_RANDOM_CHARS = 6;

/** Unbiased base62: bytes of 248 and above are dropped, so every character is equally likely. */
const randomBase62 = (length: number): string => {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
};

const checksum = (body: string): string => {
  let value =
    createHash('sha256').update(body).digest().readBigUInt64BE(0) % 62n ** BigInt(KEY_CHECKSUM_CHARS);
  let out = '';
  for (let i = 0; i < KEY_CHECKSUM_CHARS; i += 1) {
    out = BASE62[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out;
};

/**
 * A fresh key for the stage; shown to the caller once, never stored.
 *
 * @example
 * generateApiKey('dev'); // 'tk_dev_3kT9...' (40 random chars + 6 checksum chars)
 */
export const generateApiKey = (stage: string): string => {
  const body = `tk_${stage}_${randomBase62(KEY_RANDOM_CHARS)}`;
  return `${body}${checksum(body)}`;
};

export type KeyFormatProblem = 'malformed' | 'bad_checksum' | 'wrong_stage';

/**
 * Checks shape, checksum and stage without any I/O.
 *
 * @example
 * checkApiKeyFormat(key, 'dev'); // undefined when well-formed, else 'malformed' | 'bad_checksum' | 'wrong_stage'
 */
export const checkApiKeyFormat = (key: string, stage: string): KeyFormatProblem | undefined => {
  const match = KEY_PATTERN.exec(key);
  if (!match) return 'malformed';
  const body = key.slice(0, -KEY_CHECKSUM_CHARS);
  if (checksum(body) !== key.slice(-KEY_CHECKSUM_CHARS)) return 'bad_checksum';
  if (match[1] !== stage) return 'wrong_stage';
  return undefined;
};

/** SHA-256 of the whole key, hex: the only form a key is stored in. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** `tk_<stage>_` and the first random characters: enough to tell keys apart in a list. */
export const apiKeyPrefix = (key: string): string => {
  const stageEnd = key.indexOf('_', 3);
  return key.slice(0, stageEnd + 1 + PREFIX_RANDOM_CHARS);
};

/** Constant-time equality of two hex digests (different lengths are simply unequal). */
export const hashesEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
};

/** Constant-time comparison of two secrets of any length: both sides are hashed first. */
export const secretsEqual = (given: string, expected: string): boolean =>
  timingSafeEqual(
    createHash('sha256').update(given).digest(),
    createHash('sha256').update(expected).digest(),
  );
