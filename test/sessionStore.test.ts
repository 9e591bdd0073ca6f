import { http, HttpResponse } from 'msw'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { systemClock } from '../src/clock.js'
import { AuthError, createAuthClient, memoryStorage, type TokenStorage } from '../src/index.js'
import { createSessionState, toRecord, type SessionState } from '../src/session.js'
import { createSessionStore } from '../src/storage/sessionStore.js'
import { BASE_URL, network, record, serialize, useMockAuthServer } from './helpers.js'

const KEY = 'tokenkeeper.session'
const SERVER = `${BASE_URL}/auth/refresh`
const state: SessionState<unknown> = createSessionState('login', { accessToken: 'opaque', refreshToken: 'rt', expiresInSec: 60 }, 1_000)
const TIMEOUT = 5_000

const open = (storage: TokenStorage, onError: (error: AuthError) => void = () => undefined) =>
  createSessionStore<unknown>({ storage, storageKey: KEY, server: SERVER, clock: systemClock, storageTimeoutMs: TIMEOUT }, onError)

const never = () => new Promise<never>(() => {})

describe('createSessionStore', () => {
  it('saves a session and loads it back', async () => {
    const store = open(memoryStorage())
    await store.save(state)
    expect(await store.load()).toEqual(state)
  })

  it('works with an async storage (AsyncStorage, localForage)', async () => {
    const items = new Map<string, string>()
    const asyncStorage: TokenStorage = {
      getItem: async (key) => items.get(key) ?? null,
      setItem: async (key, value) => void items.set(key, value),
      removeItem: async (key) => void items.delete(key),
    }
    const store = open(asyncStorage)
    await store.save(state)
    expect(await store.load()).toEqual(state)
    await store.clear()
    expect(items.size).toBe(0)
  })

  it.each([['not json {'], ['{"v":1}'], ['[]'], ['"a string"']])('removes a corrupt record %s and reports no session', async (raw) => {
    const storage = memoryStorage()
    storage.setItem(KEY, raw)
    const errors: AuthError[] = []
    const store = open(storage, (error) => errors.push(error))
    expect(await store.load()).toBeUndefined()
    expect(storage.getItem(KEY)).toBeNull()
    expect(errors).toEqual([])
  })

  it('turns a storage that throws on write into a storage error, and does not throw', async () => {
    const storage = memoryStorage()
    storage.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError')
    }
    const errors: AuthError[] = []
    const store = open(storage, (error) => errors.push(error))
    await expect(store.save(state)).resolves.toBeUndefined()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'storage', name: 'AuthError' })
    expect(errors[0]!.message).toContain('setItem')
    expect(errors[0]!.message).not.toContain('opaque')
  })

  it('turns a storage that throws on read into a storage error and no session', async () => {
    const storage = memoryStorage()
    storage.getItem = () => {
      throw new DOMException('denied', 'SecurityError')
    }
    const errors: AuthError[] = []
    const store = open(storage, (error) => errors.push(error))
    expect(await store.load()).toBeUndefined()
    expect(errors[0]?.code).toBe('storage')
  })

  it('passes a storage AuthError (cookie too large) through as it is', async () => {
    const storage = memoryStorage()
    const tooLarge = new AuthError('storage', 'cookieStorage: too large')
    storage.setItem = () => {
      throw tooLarge
    }
    const errors: AuthError[] = []
    await open(storage, (error) => errors.push(error)).save(state)
    expect(errors).toEqual([tooLarge])
  })

  it('runs writes in order, so a slow save never lands after a later clear', async () => {
    const items = new Map<string, string>()
    let releaseSave = () => {}
    const slow: TokenStorage = {
      getItem: (key) => items.get(key) ?? null,
      setItem: (key, value) =>
        new Promise<void>((resolve) => {
          releaseSave = () => {
            items.set(key, value)
            resolve()
          }
        }),
      removeItem: (key) => void items.delete(key),
    }
    const store = open(slow)
    const saved = store.save(state)
    const cleared = store.clear()
    await vi.waitFor(() => expect(releaseSave).not.toBe(undefined))
    releaseSave()
    await Promise.all([saved, cleared])
    expect(items.has(KEY)).toBe(false)
  })
})

/** A storage whose calls wait until the test answers them, as a stuck IndexedDB does; an answer lands then. */
function stuckStorage() {
  const items = new Map<string, string>()
  const calls: { operation: string; answer(): void }[] = []
  const wait = <T>(operation: string, land: () => T) =>
    new Promise<T>((resolve) => calls.push({ operation, answer: () => resolve(land()) }))
  const storage: TokenStorage = {
    getItem: (key) => wait('getItem', () => items.get(key) ?? null),
    setItem: (key, value) => wait('setItem', () => void items.set(key, value)),
    removeItem: (key) => wait('removeItem', () => void items.delete(key)),
  }
  return { storage, items, calls }
}

/** Reads what `promise` resolved to so far, or 'pending'. */
function peek<T>(promise: Promise<T>): () => T | 'pending' {
  let value: T | 'pending' = 'pending'
  void promise.then((settled) => (value = settled))
  return () => value
}

describe('createSessionStore: every storage call is bounded by storageTimeoutMs', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('a storage whose getItem never settles loads as "nothing stored" after storageTimeoutMs, with a storage error naming the call', async () => {
    const errors: AuthError[] = []
    const store = open({ getItem: never, setItem: never, removeItem: never }, (error) => errors.push(error))
    const loaded = peek(store.load())
    await vi.advanceTimersByTimeAsync(TIMEOUT - 1)
    expect(loaded()).toBe('pending')
    expect(errors).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(loaded()).toBeUndefined()
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ name: 'AuthError', code: 'storage', message: `storage: getItem("${KEY}") did not answer within ${TIMEOUT} ms` })
  })

  it('a storage whose setItem and removeItem never settle lets save and then clear resolve, each after storageTimeoutMs, without the token in the errors', async () => {
    const errors: AuthError[] = []
    const store = open({ getItem: () => null, setItem: never, removeItem: never }, (error) => errors.push(error))
    const saved = peek(store.save(state))
    const cleared = peek(store.clear())
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect([saved(), cleared()]).toEqual([undefined, 'pending'])
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(cleared()).toBeUndefined()
    expect(errors.map((error) => [error.code, error.message])).toEqual([
      ['storage', `storage: setItem("${KEY}") did not answer within ${TIMEOUT} ms`],
      ['storage', `storage: removeItem("${KEY}") did not answer within ${TIMEOUT} ms`],
    ])
    expect(serialize(errors)).not.toMatch(/opaque|"rt"/)
  })

  it('a save that timed out and lands after a later clear is undone: the clear is applied once more, so a reload finds no session', async () => {
    const { storage, items, calls } = stuckStorage()
    const store = open(storage)
    void store.save(state)
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    const cleared = store.clear()
    await vi.advanceTimersByTimeAsync(0)
    calls[1]!.answer()
    await cleared
    calls[0]!.answer() // the hung save lands at last, bringing the logged-out session back
    await vi.advanceTimersByTimeAsync(0)
    expect(calls.map((call) => call.operation)).toEqual(['setItem', 'removeItem', 'removeItem'])
    calls[2]!.answer()
    expect(items.has(KEY)).toBe(false)
  })

  it('a save that timed out and lands after a newer save is overwritten by the newer one once more', async () => {
    const { storage, items, calls } = stuckStorage()
    const store = open(storage)
    const newer = createSessionState('login', { accessToken: 'newer', refreshToken: 'rt2', expiresInSec: 60 }, 2_000)
    void store.save(state)
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    const saved = store.save(newer)
    await vi.advanceTimersByTimeAsync(0)
    calls[1]!.answer()
    await saved
    calls[0]!.answer()
    await vi.advanceTimersByTimeAsync(0)
    expect(calls.map((call) => call.operation)).toEqual(['setItem', 'setItem', 'setItem'])
    calls[2]!.answer()
    expect(JSON.parse(items.get(KEY)!)).toEqual({ ...toRecord(newer), server: SERVER })
  })

  it('a save that timed out and lands with no newer write asked for is left as it is', async () => {
    const { storage, items, calls } = stuckStorage()
    const store = open(storage)
    void store.save(state)
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    calls[0]!.answer()
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(calls).toHaveLength(1)
    expect(JSON.parse(items.get(KEY)!)).toEqual({ ...toRecord(state), server: SERVER })
  })

  it('a getItem answer that comes after the timeout is ignored: its record is neither used nor removed, and nothing more is reported', async () => {
    const { storage, items, calls } = stuckStorage()
    const errors: AuthError[] = []
    const store = open(storage, (error) => errors.push(error))
    const loaded = peek(store.load())
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(loaded()).toBeUndefined()
    items.set(KEY, 'not json {')
    calls[0]!.answer()
    await vi.advanceTimersByTimeAsync(TIMEOUT)
    expect(calls).toHaveLength(1)
    expect(errors).toHaveLength(1)
  })

  it('a storage that answers in time leaves no timer behind', async () => {
    const store = open({ getItem: async () => null, setItem: async () => undefined, removeItem: async () => undefined })
    await store.save(state)
    await store.load()
    await store.clear()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('a storage that never answers, through the client', () => {
  const { mock } = useMockAuthServer()
  const { elapse } = network()
  const ADA = { username: 'ada', password: 'lovelace' }
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] }))
  afterEach(() => vi.useRealTimers())

  it('a storage whose getItem never settles: ready resolves null after storageTimeoutMs with a storage error event, and login then works in memory', async () => {
    const auth = createAuthClient({ baseUrl: BASE_URL, storage: { getItem: never, setItem: () => undefined, removeItem: () => undefined } })
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    const ready = peek(auth.ready)
    await elapse(TIMEOUT)
    expect(ready()).toBeNull()
    expect(errors).toMatchObject([{ code: 'storage', message: `storage: getItem("${KEY}") did not answer within ${TIMEOUT} ms` }])
    const session = await auth.login(ADA)
    expect(await auth.getAccessToken()).toBe(session.accessToken)
    auth.destroy()
  })

  it('a storage whose setItem and removeItem never settle: logout still resolves and the revocation is sent', async () => {
    const auth = createAuthClient({ baseUrl: BASE_URL, storage: { getItem: () => null, setItem: never, removeItem: never } })
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    const session = await auth.login(ADA)
    const loggedOut = peek(auth.logout())
    expect(auth.getSession()).toBeNull()
    // The login's save, then the logout's clear, each waits out the bound.
    await elapse(2 * TIMEOUT)
    expect(loggedOut()).toEqual({ revoked: true })
    expect(mock().counts.logout).toBe(1)
    expect(errors.map((error) => error.code)).toEqual(['storage', 'storage'])
    expect(serialize(errors)).not.toContain(session.accessToken)
    auth.destroy()
  })
})

describe('destroy() and a storage call still out', () => {
  afterEach(() => vi.useRealTimers())

  it('leaves no storageTimeoutMs timer behind, and ready settles at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const hung: TokenStorage = { getItem: () => never(), setItem: () => undefined, removeItem: () => undefined }
    const auth = createAuthClient({ baseUrl: BASE_URL, storage: hung, crossTab: false })
    await vi.advanceTimersByTimeAsync(0)
    auth.destroy()
    expect(vi.getTimerCount()).toBe(0)
    await expect(auth.ready).resolves.toBeNull()
  })

  it('destroy() in the tick the client was created (React StrictMode), with a storage that never answers: ready still settles', async () => {
    const hung: TokenStorage = { getItem: () => never(), setItem: () => never(), removeItem: () => never() }
    const auth = createAuthClient({ baseUrl: BASE_URL, storage: hung, crossTab: false, storageTimeoutMs: 60_000 })
    auth.destroy()
    await expect(auth.ready).resolves.toBeNull()
  })

  it('logout() after destroy(), with a storage that never answers, still resolves', async () => {
    const hung: TokenStorage = { getItem: () => never(), setItem: () => never(), removeItem: () => never() }
    const auth = createAuthClient({ baseUrl: BASE_URL, storage: hung, crossTab: false, storageTimeoutMs: 50 })
    await auth.ready
    auth.destroy()
    await expect(auth.logout()).resolves.toEqual({ revoked: false })
  })
})

describe('two clients for different servers that share a storage and its key', () => {
  const { server, mock } = useMockAuthServer()

  it("the second neither restores the first's session nor sends its refresh token anywhere, and leaves its record alone", async () => {
    const shared = memoryStorage()
    const first = createAuthClient({ baseUrl: BASE_URL, storage: shared, crossTab: false })
    await first.login({ username: 'ada', password: 'lovelace' })
    const stored = shared.getItem(KEY)
    const seen: string[] = []
    server.use(http.post('https://other.example.com/auth/refresh', async ({ request }) => (seen.push(await request.text()), HttpResponse.json({}, { status: 401 }))))
    const second = createAuthClient({ baseUrl: 'https://other.example.com', storage: shared, crossTab: false, minTokenValidityMs: 10 ** 9 })
    expect(await second.ready).toBeNull()
    expect(await second.getAccessToken()).toBeNull()
    expect(seen).toEqual([])
    expect(shared.getItem(KEY)).toBe(stored)
    expect(mock().counts.refresh).toBe(0)
    first.destroy()
    second.destroy()
  })

  it('a record written before records named their server (0.1) is still restored', async () => {
    const shared = memoryStorage()
    const first = createAuthClient({ baseUrl: BASE_URL, storage: shared, crossTab: false })
    const session = await first.login({ username: 'ada', password: 'lovelace' })
    first.destroy()
    const { server: _, ...old } = JSON.parse(shared.getItem(KEY) as string) as Record<string, unknown>
    shared.setItem(KEY, JSON.stringify(old))
    const again = createAuthClient({ baseUrl: BASE_URL, storage: shared, crossTab: false })
    expect((await again.ready)?.accessToken).toBe(session.accessToken)
    again.destroy()
  })
})
