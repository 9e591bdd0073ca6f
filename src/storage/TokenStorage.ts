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
  getItem(key: string): string | null | undefined | Promise<string | null | undefined>
  setItem(key: string, value: string): unknown
  removeItem(key: string): unknown
}
