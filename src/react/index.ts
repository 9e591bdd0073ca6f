import { useCallback, useSyncExternalStore } from 'react'
import type { AuthClient } from '../client.js'
import type { Session } from '../session.js'

const serverSnapshot = (): null => null

/**
 * The current session of `auth`, re-rendering on every change (login, refresh, logout, expiry,
 * other tabs). Built on `useSyncExternalStore`, so it is tear-free; during SSR it is `null`.
 *
 * @example
 * ```tsx
 * import { useSession } from 'tokenkeeper/react'
 *
 * function Header() {
 *   const session = useSession(auth)
 *   return session ? <span>Hello {session.claims.sub}</span> : <a href="/login">Log in</a>
 * }
 * ```
 */
export function useSession<Claims>(auth: AuthClient<Claims>): Session<Claims> | null {
  const subscribe = useCallback((onChange: () => void) => auth.on('change', onChange), [auth])
  return useSyncExternalStore(subscribe, () => auth.getSession(), serverSnapshot)
}
