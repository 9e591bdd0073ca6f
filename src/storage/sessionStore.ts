import type { Clock, TimerHandle } from '../clock.js'
import { AuthError, isAuthError } from '../errors.js'
import type { Logger } from '../log.js'
import { fromRecord, toRecord, type SessionState } from '../session.js'
import type { TokenStorage } from './TokenStorage.js'
import { DEV } from '../dev.js'

/** The client's persistence: untrusted reads, ordered writes, and failures that never throw. */
export interface SessionStore<Claims> {
  /** The stored session, or undefined when there is none or it was unusable (then it is removed). */
  load(): Promise<SessionState<Claims> | undefined>
  save(state: SessionState<Claims>): Promise<void>
  clear(): Promise<void>
  /** Stops waiting: every call still out is given up now, and later ones are made but not waited for (destroy()). */
  close(): void
}

/** What the store needs from the client's resolved options. */
export interface SessionStoreConfig {
  storage: TokenStorage
  storageKey: string
  /**
   * The server the session belongs to (the protocol's id), written with the record: a record of
   * another server under the same key (two clients sharing a storage and key) is left alone, so
   * its refresh token never goes to this client's server.
   */
  server: string
  clock: Clock
  storageTimeoutMs: number
  /** The debug log (development build). */
  log?: Logger | undefined
}

type Operation = 'getItem' | 'setItem' | 'removeItem'

interface Write {
  operation: 'setItem' | 'removeItem'
  run(): unknown
}

export function createSessionStore<Claims>(
  { storage, storageKey: key, server, clock, storageTimeoutMs }: SessionStoreConfig,
  onError: (error: AuthError) => void,
): SessionStore<Claims> {
  // Read apart from the destructured config, which the production build (no log) keeps as it is.
  const log = DEV ? (arguments[0] as SessionStoreConfig).log : undefined
  // Writes run one after another, so a slow async save can never land after a later clear.
  let writes: Promise<void> = Promise.resolve()
  /** The newest write asked for: what the storage must hold in the end. */
  let latest: Write | undefined

  const fail = (operation: Operation, cause: unknown): void => {
    if (DEV) log?.('storage failed; the session goes on in memory', { operation, key })
    onError(
      isAuthError(cause) && cause.code === 'storage'
        ? cause
        : new AuthError('storage', DEV ? `storage: ${operation}("${key}") failed` : '', { cause }),
    )
  }

  /**
   * A storage call's answer, or undefined after `storageTimeoutMs`: IndexedDB-backed storages can
   * hang for good, and one hung call must hold neither `ready`, nor the later writes, nor `logout()`.
   * `late` runs when a call that timed out settles after all.
   */
  const bounded = <T>(operation: Operation, answer: T, late?: () => void): Promise<Awaited<T> | undefined> => {
    // A sync storage (localStorage, memory) has answered already: no timer to leave running.
    if (typeof (answer as { then?: unknown } | null)?.then !== 'function') return Promise.resolve(answer as Awaited<T>)
    let timer: TimerHandle
    let timedOut = false
    let giveUp: () => void
    return Promise.race([
      Promise.resolve(answer).finally(() => {
        clock.clearTimeout(timer)
        pending.delete(giveUp)
        if (DEV && timedOut) log?.('storage answered after all, late', { operation, key })
        if (timedOut) late?.()
      }),
      new Promise<undefined>((resolve) => {
        giveUp = () => {
          clock.clearTimeout(timer)
          pending.delete(giveUp)
          timedOut = true
          resolve(undefined)
        }
        // Closed (destroyed): the call is made, but nothing waits for its answer any more.
        if (closed) return giveUp()
        pending.add(giveUp)
        timer = clock.setTimeout(() => {
          giveUp()
          if (DEV) log?.('storage did not answer; given up on', { operation, key, timeoutMs: storageTimeoutMs })
          onError(new AuthError('storage', DEV ? `storage: ${operation}("${key}") did not answer within ${storageTimeoutMs} ms` : ''))
        }, storageTimeoutMs)
      }),
    ])
  }
  /** The calls still waiting for an answer, each to give up at `close()`. */
  const pending = new Set<() => void>()
  let closed = false

  const apply = (write: Write): Promise<void> =>
    (writes = writes.then(async () => {
      try {
        // A write that timed out may still land, after a newer one: a hung save landing after the
        // logout's clear would bring the session back on reload. So the newest is applied once more.
        await bounded(write.operation, write.run(), () => {
          if (latest !== write) void apply(latest!)
        })
      } catch (error) {
        fail(write.operation, error)
      }
    }))

  const write = (operation: Write['operation'], run: () => unknown): Promise<void> => apply((latest = { operation, run }))

  return {
    async load() {
      let raw: unknown
      try {
        await writes
        // No answer in time reads as nothing stored; a later answer is ignored, the client went on without it.
        raw = await bounded('getItem', storage.getItem(key))
      } catch (error) {
        fail('getItem', error)
        return undefined
      }
      if (raw === null || raw === undefined) return undefined
      let state: SessionState<Claims> | undefined
      try {
        const record: unknown = typeof raw === 'string' ? JSON.parse(raw) : undefined
        const owner = (record as { server?: unknown } | null)?.server
        // Another server's session: not ours to use, nor to remove. (Records from 0.1 have no owner.)
        if (owner !== undefined && owner !== server) return undefined
        state = fromRecord<Claims>(record)
      } catch {
        state = undefined
      }
      if (DEV && !state) log?.('storage: the stored record is unusable; removing it', { key })
      if (!state) await write('removeItem', () => storage.removeItem(key))
      return state
    },
    save: (state) => write('setItem', () => storage.setItem(key, JSON.stringify({ ...toRecord(state), server }))),
    clear: () => write('removeItem', () => storage.removeItem(key)),
    close() {
      closed = true
      for (const giveUp of [...pending]) giveUp()
    },
  }
}
