import { AuthError } from '../errors.js'
import type { TokenStorage } from './TokenStorage.js'
import { DEV } from '../dev.js'

/**
 * Keeps the session in `localStorage` (survives reloads and is shared by tabs) or `sessionStorage`
 * (one tab, survives reloads). Any script on the page can read it: prefer memory or cookies where
 * XSS is a concern. The storage is looked up at use, so creating the adapter during SSR is safe.
 *
 * @example
 * ```ts
 * const auth = createAuthClient({ baseUrl, storage: webStorage('local') })
 * ```
 * @throws {TypeError} when `kind` is not `'local'` or `'session'`.
 */
export function webStorage(kind: 'local' | 'session'): TokenStorage {
  if (kind !== 'local' && kind !== 'session') {
    throw new TypeError(DEV ? `webStorage: kind must be 'local' or 'session', got ${String(kind)}` : "webStorage: kind: see tokenkeeper's README")
  }
  const name = kind === 'local' ? 'localStorage' : 'sessionStorage'
  const storage = (): Storage => {
    // Reading the property itself throws a SecurityError where storage is blocked.
    const found = (globalThis as { [key: string]: unknown })[name] as Storage | undefined
    if (!found) throw new AuthError('storage', DEV ? `webStorage: ${name} is not available here` : '')
    return found
  }
  return {
    getItem: (key) => storage().getItem(key),
    setItem: (key, value) => storage().setItem(key, value),
    removeItem: (key) => storage().removeItem(key),
  }
}
