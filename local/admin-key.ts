// Local platform: where the admin key comes from. In the cloud it lives in Secrets Manager; locally it is
// ADMIN_API_KEY, or a key generated once and kept in the data directory (mode 0600).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type AdminKeySource = 'option' | 'env' | 'file' | 'generated';

export interface AdminKey {
  readonly key: string;
  readonly source: AdminKeySource;
  /** The key file, when the key was read from or written to one. */
  readonly file?: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `tk_admin_` and 32 base62 characters (rejection sampling keeps them uniform). */
export const generateAdminKey = (): string => {
  let out = '';
  while (out.length < 32) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && out.length < 32) out += BASE62[byte % 62];
    }
  }
  return `tk_admin_${out}`;
};

/** The generated admin key's file in the data dir. */
export const ADMIN_KEY_FILE = 'admin-key';

/**
 * The admin key: given explicitly, else `ADMIN_API_KEY`, else `<dataDir>/admin-key`, else a new one
 * written there.
 *
 * @example
 * const { key, source, file } = resolveAdminKey({ dataDir: '.tenantic' });
 */
export const resolveAdminKey = (options: {
  readonly dataDir: string;
  readonly adminKey?: string;
  readonly env?: NodeJS.ProcessEnv;
}): AdminKey => {
  if (options.adminKey) return { key: options.adminKey, source: 'option' };
  const fromEnv = (options.env ?? process.env).ADMIN_API_KEY;
  if (fromEnv) return { key: fromEnv, source: 'env' };
  const file = join(options.dataDir, ADMIN_KEY_FILE);
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key) return { key, source: 'file', file };
  }
  mkdirSync(options.dataDir, { recursive: true });
  const key = generateAdminKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, source: 'generated', file };
};
