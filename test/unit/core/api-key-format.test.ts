import { describe, expect, it } from 'vitest';
import {
  apiKeyPrefix,
  checkApiKeyFormat,
  generateApiKey,
  hashApiKey,
  hashesEqual,
  KEY_CHECKSUM_CHARS,
  secretsEqual,
} from '../../../functions/core/tenants/api-key-format';

const flipLastRandomChar = (key: string) => {
  const index = key.length - KEY_CHECKSUM_CHARS - 1;
  const replacement = key[index] === 'a' ? 'b' : 'a';
  return `${key.slice(0, index)}${replacement}${key.slice(index + 1)}`;
};

describe('API key format', () => {
  it('generates tk_<stage>_ keys with a valid checksum and at least 32 random base62 characters', () => {
    const prefix = 'tk_acme-prod_';
    const keys = Array.from({ length: 200 }, () => generateApiKey('acme-prod'));
    const randomParts = keys.map((key) => key.slice(prefix.length, -KEY_CHECKSUM_CHARS));

    for (const key of keys) {
      expect(key.startsWith(prefix)).toBe(true);
      expect(checkApiKeyFormat(key, 'acme-prod')).toBeUndefined();
    }
    for (const part of randomParts) expect(part).toMatch(/^[0-9A-Za-z]+$/);
    // Measured, not read from a constant: a position counts as random only if it varies across keys.
    // Across 200 uniform base62 draws a truly random position repeats one character with odds ~62^-199.
    const width = Math.min(...randomParts.map((part) => part.length));
    const varying = Array.from(
      { length: width },
      (_, index) => new Set(randomParts.map((part) => part[index])).size,
    ).filter((distinct) => distinct > 1).length;
    expect(varying).toBeGreaterThanOrEqual(32);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('never repeats a key', () => {
    const keys = new Set(Array.from({ length: 500 }, () => generateApiKey('dev')));
    expect(keys.size).toBe(500);
  });

  it('rejects a key with one character changed, by its checksum, without any lookup', () => {
    const key = generateApiKey('dev');
    expect(checkApiKeyFormat(flipLastRandomChar(key), 'dev')).toBe('bad_checksum');
  });

  it('rejects keys of another stage, wrong shapes and truncations', () => {
    const key = generateApiKey('dev');
    expect(checkApiKeyFormat(key, 'prod')).toBe('wrong_stage');
    expect(checkApiKeyFormat(key.slice(0, -1), 'dev')).toBe('malformed');
    expect(checkApiKeyFormat(`${key}x`, 'dev')).toBe('malformed');
    expect(checkApiKeyFormat('sk-proj-abc', 'dev')).toBe('malformed');
    expect(checkApiKeyFormat('', 'dev')).toBe('malformed');
  });

  it('stores a SHA-256 hex digest, not the key', () => {
    const key = generateApiKey('dev');
    const hash = hashApiKey(key);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(7, 20));
    expect(hashApiKey(key)).toBe(hash);
  });

  it('shows a prefix of the stage and a few random characters, never the whole key', () => {
    const key = generateApiKey('dev');
    const prefix = apiKeyPrefix(key);
    expect(key.startsWith(prefix)).toBe(true);
    expect(prefix.startsWith('tk_dev_')).toBe(true);
    expect(prefix.length).toBeLessThan(16);
  });

  it('compares digests and secrets by value', () => {
    const a = hashApiKey('one');
    expect(hashesEqual(a, hashApiKey('one'))).toBe(true);
    expect(hashesEqual(a, hashApiKey('two'))).toBe(false);
    expect(hashesEqual(a, a.slice(0, 10))).toBe(false);
    expect(hashesEqual('', '')).toBe(false);
    expect(secretsEqual('admin-secret', 'admin-secret')).toBe(true);
    expect(secretsEqual('admin-secret', 'admin-secreT')).toBe(false);
    expect(secretsEqual('short', 'a-much-longer-secret')).toBe(false);
  });
});
