import type { TokenStorage } from './TokenStorage.js'

/**
 * Keeps the session in this page's memory only: the safest place, since nothing outlives the tab
 * and no other script can read it from storage. The default.
 *
 * @example
 * ```ts
 * const auth = createAuthClient({ baseUrl, storage: memoryStorage() })
 * ```
 */
export function memoryStorage(): TokenStorage {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  }
}
