import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest'
import { createMockAuthServer, type MockAuthServerOptions } from '../src/testing/mockAuthServer.js'

export const BASE_URL = 'https://api.example.com'

/**
 * One mock auth server per test file, through MSW: unhandled requests fail the test, and each
 * test's `server.use()` twists are reset after it. `mock()` gives the current test's fresh server.
 */
export function useMockAuthServer(options: MockAuthServerOptions = {}) {
  let current = createMockAuthServer({ baseUrl: BASE_URL, ...options })
  const server = setupServer()
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  afterEach(() => {
    server.resetHandlers()
    current = createMockAuthServer({ baseUrl: BASE_URL, ...options })
    server.use(...current.handlers)
  })
  afterAll(() => server.close())
  server.use(...current.handlers)
  /** Swaps in a server with other options for the current test. */
  const configure = (overrides: MockAuthServerOptions) => {
    current = createMockAuthServer({ baseUrl: BASE_URL, ...options, ...overrides })
    server.use(...current.handlers)
    return current
  }
  return { server, mock: () => current, configure }
}

/** The values an event emitted, in order. */
export function record<T>(subscribe: (listener: (payload: T) => void) => unknown): T[] {
  const seen: T[] = []
  subscribe((payload) => seen.push(payload))
  return seen
}

/** Every string an event payload or error holds, for "no token leaks" assertions. */
export function serialize(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message} ${serialize((value as { cause?: unknown }).cause ?? '')}`
  return JSON.stringify(value) ?? String(value)
}

/**
 * Fake timers move time, but a mock server's answer also needs real work (WebCrypto signs on a
 * worker thread). `network()` counts the fetches in flight (through the global fetch, which MSW
 * patched); `settle()` lets them all finish without moving the clock, and `elapse(ms)` moves the
 * clock in steps, settling after each.
 */
export function network() {
  let inFlight = 0
  beforeEach(() => {
    inFlight = 0
    const patched = globalThis.fetch
    vi.stubGlobal('fetch', (input: RequestInfo | URL, init?: RequestInit) => {
      inFlight++
      let done = false
      const end = () => {
        if (!done) inFlight--
        done = true
      }
      // A request the client gave up on counts as finished, whether or not the mock ever answers.
      init?.signal?.addEventListener('abort', end)
      return patched(input, init).finally(end)
    })
  })
  const settle = async () => {
    // Reading the body and acting on it take a few more turns: wait for a run of quiet turns.
    for (let round = 0, quiet = 0; round < 10_000; round++) {
      await vi.advanceTimersByTimeAsync(0)
      await new Promise((resolve) => setImmediate(resolve))
      quiet = inFlight === 0 ? quiet + 1 : 0
      if (quiet >= 10) return
    }
    throw new Error('requests still in flight after 10,000 rounds')
  }
  const elapse = async (ms: number, stepMs = 1_000) => {
    for (let left = ms; left > 0; left -= stepMs) {
      await vi.advanceTimersByTimeAsync(Math.min(stepMs, left))
      await settle()
    }
  }
  return { settle, elapse }
}

/**
 * A LockManager for tabs simulated in one page, with the semantics the client relies on:
 * exclusive locks granted in request order, `signal` to leave the queue, `steal` to take a held
 * lock (the holder's request rejects), release when the callback's promise settles.
 */
export function createFakeLocks(): LockManager {
  interface Entry {
    callback: LockGrantedCallback<unknown>
    resolve(value: unknown): void
    reject(reason: unknown): void
  }
  const held = new Map<string, Entry>()
  const queues = new Map<string, Entry[]>()
  const abortError = () => new DOMException('The lock request was aborted', 'AbortError')

  const grant = (name: string, entry: Entry): void => {
    held.set(name, entry)
    Promise.resolve()
      .then(() => entry.callback({ name, mode: 'exclusive' } as Lock))
      .then(
        (value) => {
          if (held.get(name) !== entry) return
          entry.resolve(value)
          release(name)
        },
        (error) => {
          if (held.get(name) !== entry) return
          entry.reject(error)
          release(name)
        },
      )
  }
  const release = (name: string): void => {
    held.delete(name)
    const next = queues.get(name)?.shift()
    if (next) grant(name, next)
  }

  const request = (name: string, optionsOrCallback: LockOptions | LockGrantedCallback<unknown>, maybeCallback?: LockGrantedCallback<unknown>) => {
    const options = typeof optionsOrCallback === 'function' ? {} : optionsOrCallback
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback)!
    return new Promise((resolve, reject) => {
      const entry: Entry = { callback, resolve, reject }
      if (options.steal) {
        const holder = held.get(name)
        held.delete(name)
        holder?.reject(abortError())
        grant(name, entry)
        return
      }
      if (options.signal?.aborted) return reject(abortError())
      if (!held.has(name)) return grant(name, entry)
      const queue = queues.get(name) ?? []
      queues.set(name, queue)
      queue.push(entry)
      options.signal?.addEventListener('abort', () => {
        const index = queue.indexOf(entry)
        if (index >= 0) {
          queue.splice(index, 1)
          reject(abortError())
        }
      })
    })
  }
  return { request, query: async () => ({ held: [], pending: [] }) } as unknown as LockManager
}
