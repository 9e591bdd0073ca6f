import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient, type AuthClientOptions } from '../src/index.js'
import { systemClock } from '../src/clock.js'
import type { AuthServer } from '../src/protocols/Protocol.js'
import { createMockAuthServer, type MockAuthServerOptions } from '../src/testing/mockAuthServer.js'
import { postToAuthServer } from '../src/transport.js'

export const BASE_URL = 'https://api.example.com'

/** What a protocol gets from the client, for testing a protocol alone: paths join BASE_URL, posts go through fetch. */
export const testAuthServer = (requestTimeoutMs = 1_000): AuthServer => {
  const config = { fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init), clock: systemClock, requestTimeoutMs, credentials: 'same-origin' as const }
  return {
    url: (_, value) => new URL(value as string, BASE_URL).href,
    post: (operation, url, body, headers) => postToAuthServer(config, operation, url, body, headers),
    get: (operation, url) => postToAuthServer(config, operation, url, undefined, {}),
  }
}

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

/**
 * Tabs simulated in one page: each `openTab()` is its own client on its own memory storage (unless
 * given one), sharing a storage key, the page's BroadcastChannel and fake Web Locks with the other
 * tabs of the current test. After each test every tab is destroyed, and the next test gets a new
 * key and new locks, so tests never hear each other.
 */
export function useTabs(prefix: string) {
  let tabs: AuthClient[] = []
  let key = 0
  let locks = createFakeLocks()
  afterEach(() => {
    for (const tab of tabs) tab.destroy()
    tabs = []
    key++
    locks = createFakeLocks()
  })
  const storageKey = () => `${prefix}-${key}`
  function openTab(options: Partial<AuthClientOptions> = {}) {
    const tab = createAuthClient({
      baseUrl: BASE_URL,
      storageKey: storageKey(),
      storage: memoryStorage(),
      locks,
      lockTimeoutMs: 300,
      tabSyncTimeoutMs: 50,
      ...options,
    })
    tabs.push(tab)
    return tab
  }
  async function openTabs(count: number, options: Partial<AuthClientOptions> = {}) {
    const opened = Array.from({ length: count }, () => openTab(options))
    await Promise.all(opened.map((tab) => tab.ready))
    return opened
  }
  return {
    openTab,
    openTabs,
    storageKey,
    /** The name of the tabs' channel (and the stem of their locks): the storage key and the refresh endpoint. */
    channelName: () => `tokenkeeper:${storageKey()}@${BASE_URL}/auth/refresh`,
    /** The fake Web Locks of the current test. */
    locks: () => locks,
  }
}

/**
 * Clients for one test file, on their own (no cross-tab): `client(options)` creates one against
 * the mock server's base URL, `track(auth)` adopts one created otherwise; all are destroyed after
 * each test.
 */
export function useClients() {
  const clients: AuthClient[] = []
  afterEach(() => {
    for (const auth of clients.splice(0)) auth.destroy()
  })
  const track = <T extends AuthClient>(auth: T): T => (clients.push(auth), auth)
  const client = (options: Partial<AuthClientOptions> = {}) => track(createAuthClient({ baseUrl: BASE_URL, crossTab: false, ...options }))
  return { client, track }
}
