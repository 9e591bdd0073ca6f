// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): a login whose key write failed went on,
// and the other tabs, with no key for it, sent its refresh without a proof: the refusal ended it
// everywhere. Such a login now fails with `storage`, its tokens revoked.
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
  vi.restoreAllMocks()
})

it('a login whose key cannot be stored fails with storage, its tokens revoked: no tab holds a session nobody else could prove', async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  msw.resetHandlers(...server.handlers)
  vi.stubGlobal('indexedDB', new IDBFactory())
  const { IDBObjectStore: FDBObjectStore } = await import('fake-indexeddb')
  const put = FDBObjectStore.prototype.put
  let failures = 1
  vi.spyOn(FDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args: [unknown, IDBValidKey?]) {
    const request = put.apply(this, args as never)
    if (failures-- > 0) this.transaction.abort() // the write fails
    return request
  } as never)
  const locks = createFakeLocks()
  const open = () => {
    const tab = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage: memoryStorage(), locks, lockTimeoutMs: 300, tabSyncTimeoutMs: 50 }))
    tabs.push(tab)
    return tab
  }
  const leader = open()
  const other = open()
  await Promise.all([leader.ready, other.ready])
  const outcome = await other.login(ada).then(() => 'logged in', (e: { code?: string }) => e.code)
  expect(outcome).toBe('storage')
  expect(server.stats.logout).toBe(1)
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect([leader.getSession(), other.getSession()]).toEqual([null, null])
  // The next login stores its key, and the session works in every tab.
  await other.login(ada)
  await vi.waitFor(() => expect(leader.getSession()?.accessToken).toBe(other.getSession()?.accessToken))
  expect((await leader.fetch(API)).status).toBe(200)
})
