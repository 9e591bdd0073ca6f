import { AuthError, isAuthError } from '../errors.js'
import { fromRecord, toRecord, type SessionState } from '../session.js'
import type { TokenStorage } from './TokenStorage.js'

/** The client's persistence: untrusted reads, ordered writes, and failures that never throw. */
export interface SessionStore<Claims> {
  /** The stored session, or undefined when there is none or it was unusable (then it is removed). */
  load(): Promise<SessionState<Claims> | undefined>
  save(state: SessionState<Claims>): Promise<void>
  clear(): Promise<void>
}

export function createSessionStore<Claims>(
  storage: TokenStorage,
  key: string,
  onError: (error: AuthError) => void,
): SessionStore<Claims> {
  // Writes run one after another, so a slow async save can never land after a later clear.
  let writes: Promise<void> = Promise.resolve()

  const fail = (operation: string, cause: unknown): void => {
    onError(
      isAuthError(cause) && cause.code === 'storage'
        ? cause
        : new AuthError('storage', `storage: ${operation}("${key}") failed`, { cause }),
    )
  }

  const write = (operation: 'setItem' | 'removeItem', run: () => unknown): Promise<void> =>
    (writes = writes.then(async () => {
      try {
        await run()
      } catch (error) {
        fail(operation, error)
      }
    }))

  return {
    async load() {
      let raw: unknown
      try {
        await writes
        raw = await storage.getItem(key)
      } catch (error) {
        fail('getItem', error)
        return undefined
      }
      if (raw === null || raw === undefined) return undefined
      let state: SessionState<Claims> | undefined
      try {
        state = fromRecord<Claims>(typeof raw === 'string' ? JSON.parse(raw) : undefined)
      } catch {
        state = undefined
      }
      if (!state) await write('removeItem', () => storage.removeItem(key))
      return state
    },
    save: (state) => write('setItem', () => storage.setItem(key, JSON.stringify(toRecord(state)))),
    clear: () => write('removeItem', () => storage.removeItem(key)),
  }
}
