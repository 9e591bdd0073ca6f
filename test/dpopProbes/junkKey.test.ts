// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): a stored value that is not a key (another
// version's record, junk) reached WebCrypto as one: a raw TypeError, and refreshes retried for ever.
import { IDBFactory } from 'fake-indexeddb'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, isAuthError, type AuthClient } from '../../src/index.js'
import { dpop } from '../../src/dpop/index.js'
import { createDpopServer } from '../support/dpopServer.js'

const BASE_URL = 'https://api.example.com'
const API = `${BASE_URL}/api/me`
const ada = { username: 'ada', password: 'lovelace' }
const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())
const clients: AuthClient[] = []
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy()
  vi.unstubAllGlobals()
})

async function put(idb: IDBFactory, value: unknown) {
  const db = await new Promise<IDBDatabase>((resolve) => {
    const open = idb.open('tokenkeeper-dpop', 1)
    open.onupgradeneeded = () => open.result.createObjectStore('keys')
    open.onsuccess = () => resolve(open.result)
  })
  await new Promise((resolve) => {
    const tx = db.transaction('keys', 'readwrite')
    tx.objectStore('keys').put(value, 'probe')
    tx.oncomplete = resolve
  })
  db.close()
}

for (const [name, junk] of [['a string', 'junk'], ['{ id: 1 }', { id: 1 }]] as const) {
  it(`a reload over ${name} stored as the key: it holds no key, so the session ends with session_expired (no raw TypeError, no endless retries)`, async () => {
    const server = createDpopServer({ baseUrl: BASE_URL })
    msw.resetHandlers(...server.handlers)
    const idb = new IDBFactory()
    vi.stubGlobal('indexedDB', idb)
    const storage = memoryStorage()
    const open = () => {
      const c = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage, crossTab: false, retryAttempts: 2, retryMinDelayMs: 10, retryMaxDelayMs: 50 }))
      clients.push(c)
      return c
    }
    const first = open()
    await first.login(ada)
    first.destroy()
    await put(idb, junk)

    const reloaded = open()
    await reloaded.ready
    const expired: { error: { code: string } }[] = []
    reloaded.on('session-expired', (payload) => expired.push(payload as never))
    const outcome = (p: Promise<unknown>) => p.then((value) => (value instanceof Response ? value.status : 'ok'), (e: unknown) => (isAuthError(e) ? `AuthError ${e.code}` : `${(e as Error)?.name}: ${(e as Error)?.message}`))
    expect(await outcome(reloaded.fetch(API))).toBe(401) // refused without a proof; auth.fetch's refresh then ends the session
    expect(expired.map((payload) => payload.error.code)).toEqual(['session_expired'])
    expect(reloaded.getSession()).toBeNull()
    expect(server.stats.refresh).toBe(1)
  })
}
