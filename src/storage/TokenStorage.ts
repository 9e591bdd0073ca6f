/**
 * Where the session is kept: the Web Storage shape, sync or async. `window.localStorage`,
 * `sessionStorage`, React Native's AsyncStorage and localForage all fit as they are.
 *
 * @example
 * ```ts
 * const auth = createAuthClient({ baseUrl, storage: window.sessionStorage })
 * ```
 */
export interface TokenStorage {
  /** The stored string, or null; may return a promise. */
  getItem(key: string): string | null | undefined | Promise<string | null | undefined>
  /** Stores the string; may return a promise, and may throw (quota, privacy settings). */
  setItem(key: string, value: string): unknown
  /** Removes the key; may return a promise. */
  removeItem(key: string): unknown
}
