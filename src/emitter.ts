/**
 * A listener for one event of a typed event map.
 *
 * @example
 * ```ts
 * const onExpired: Listener<AuthEvents['session-expired']> = ({ error }) => console.warn(error.code)
 * auth.on('session-expired', onExpired)
 * ```
 */
export type Listener<Payload> = (payload: Payload) => unknown

/** A small typed emitter (as mitt) whose listeners cannot break the emitter or each other. */
export interface Emitter<Events> {
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void
  emit<K extends keyof Events>(type: K, payload: Events[K]): void
  clear(): void
}

/**
 * Creates an emitter. A listener that throws, or returns a promise that rejects, is reported with
 * `console.error` and changes nothing for the emitter or the other listeners.
 */
export function createEmitter<Events>(): Emitter<Events> {
  const listeners = new Map<keyof Events, Set<Listener<never>>>()

  const report = (type: keyof Events, error: unknown): void => {
    // The error is the app's own; the payload (which may hold a session) is never logged.
    console.error(`tokenkeeper: a "${String(type)}" listener threw`, error)
  }

  return {
    on(type, listener) {
      let set = listeners.get(type)
      if (!set) listeners.set(type, (set = new Set()))
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const entry: Listener<never> = (payload) => (listener as Listener<unknown>)(payload)
      set.add(entry)
      return () => {
        set.delete(entry)
      }
    },
    emit(type, payload) {
      const set = listeners.get(type)
      if (!set) return
      // A snapshot, so a listener that unsubscribes or subscribes others does not skip anyone.
      for (const listener of [...set]) {
        try {
          const result = (listener as Listener<typeof payload>)(payload)
          if (result instanceof Promise) result.catch((error: unknown) => report(type, error))
        } catch (error) {
          report(type, error)
        }
      }
    },
    clear() {
      listeners.clear()
    },
  }
}
