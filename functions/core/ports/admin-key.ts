// Port: recognises the platform's admin key without the core knowing where it is kept.

/**
 * @example
 * const admin: AdminKeyVerifier = new AdminKeyProvider({ secretArn, secrets: secretsManager() });
 * if (await admin.isAdminKey(token)) principal = { principal: 'admin' };
 */
export interface AdminKeyVerifier {
  /** Compares in constant time; false when no admin key is configured. */
  isAdminKey(candidate: string): Promise<boolean>;
}
