// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a third outside probe of tokenkeeper/dpop): a key write that outlasted storageTimeoutMs
// failed the login, yet committed later, leaving a dead key as the newest. A write given up on is
// now abandoned (or aborted) before it lands.
import { IDBFactory } from 'fake-indexeddb'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient } from '../../src/index.js'
import { dpop } from '../../src/dpop/index.js'
import { createFakeLocks } from '../helpers.js'
import { createDpopServer } from '../support/dpopServer.js'

const BASE_URL = 'https://api.example.com'
const API = `${BASE_URL}/api/me`
const ada = { username: 'ada', password: 'lovelace' }
const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())
const tabs: AuthClient[] = []
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.destroy()
  vi.unstubAllGlobals()
})

/** An IndexedDB whose next open() is answered `ms` late (a disk stall), then works. */
function stallingIdb() {
  const real = new IDBFactory()
  let stallNext = 0
  const factory = {
    stall(ms: number) {
      stallNext = ms
    },
    open(name: string, version?: number) {
      const ms = stallNext
      stallNext = 0
      if (!ms) return real.open(name, version)
      const request: Record<string, unknown> = {}
      setTimeout(() => {
        const inner = real.open(name, version)
        Object.defineProperty(request, 'result', { get: () => inner.result })
        inner.onupgradeneeded = (e) => (request.onupgradeneeded as ((e: unknown) => void) | undefined)?.(e)
        inner.onerror = (e) => (request.onerror as ((e: unknown) => void) | undefined)?.(e)
        inner.onsuccess = (e) => (request.onsuccess as ((e: unknown) => void) | undefined)?.(e)
      }, ms)
      return request
    },
  }
  return factory
}

it('a login that failed on a slow key write never leaves its key in front of the session it did not replace', async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  msw.resetHandlers(...server.handlers)
  const idb = stallingIdb()
  vi.stubGlobal('indexedDB', idb)
  const locks = createFakeLocks()
  const open = () => {
    const tab = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage: memoryStorage(), locks, lockTimeoutMs: 300, tabSyncTimeoutMs: 50, storageTimeoutMs: 100 }))
    tabs.push(tab)
    return tab
  }
  const leader = open()
  await leader.ready
  const other = open()
  await other.ready
  const live = await other.login(ada) // S1, K1 stored
  await vi.waitFor(() => expect(leader.getSession()?.accessToken).toBe(live.accessToken))

  idb.stall(300) // the disk stalls for 300 ms, past storageTimeoutMs (100 ms)
  const second = await other.login(ada).then(() => 'logged in', (e: { code?: string }) => e.code)
  expect(second).toBe('storage') // that login failed, its tokens revoked, S1 kept
  expect(other.getSession()?.accessToken).toBe(live.accessToken)
  await new Promise((resolve) => setTimeout(resolve, 400)) // the late write commits

  const outcome = await leader.refresh().then(() => 'refreshed', (e: { code?: string }) => e.code)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect({ outcome, leader: !!leader.getSession(), other: !!other.getSession(), refused: server.refused }).toEqual({ outcome: 'refreshed', leader: true, other: true, refused: [] })
  // A new tab (or a reload) on S1:
  const fresh = open()
  await fresh.ready
  expect((await fresh.fetch(API)).status).toBe(200)
})
