import { getCurrentInstance, getCurrentScope, inject, onScopeDispose, shallowReadonly, shallowRef, ssrContextKey, type ShallowRef } from 'vue'
import type { AuthClient } from '../client.js'
import { DEV } from '../dev.js'
import type { Session } from '../session.js'

/**
 * The current session of `auth` as a read-only `shallowRef`, updated on every change (login,
 * refresh, logout, expiry, other tabs). Its value is `auth.getSession()`, the same object until the
 * session changes, so nothing re-renders when nothing changed. During server rendering it is `null`
 * and subscribes to nothing, as `tokenkeeper/react`'s `useSession`.
 *
 * Call it in a component's `setup` (or `<script setup>`), a Pinia setup store, or inside an
 * `effectScope`: the subscription ends when that scope is disposed (the component unmounted, the
 * scope stopped). Called with no active scope it works, but stays subscribed until
 * `auth.destroy()`; the development build warns. For one ref that lives as long as the app, create
 * it in `effectScope(true).run(() => useSession(auth))`.
 *
 * @example
 * ```ts
 * // Header.vue, <script setup lang="ts">
 * import { useSession } from 'tokenkeeper/vue'
 *
 * const session = useSession(auth)
 * // <span v-if="session">Hello {{ session.claims.sub }}</span><a v-else href="/login">Log in</a>
 * ```
 */
export function useSession<Claims>(auth: AuthClient<Claims>): Readonly<ShallowRef<Session<Claims> | null>> {
  // On the server, as React's server snapshot: no session, and no listener that no unmount would end.
  if (getCurrentInstance() && inject(ssrContextKey, null)) return shallowReadonly(shallowRef(null))
  const session = shallowRef(auth.getSession())
  // Reads the client, not the payload, so the value is always what getSession() returns now.
  const off = auth.on('change', () => {
    session.value = auth.getSession()
  })
  if (getCurrentScope()) onScopeDispose(off)
  else if (DEV) console.warn('tokenkeeper/vue: useSession was called outside a component or effectScope; it stays subscribed until auth.destroy()')
  return shallowReadonly(session)
}
