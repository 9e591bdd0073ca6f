// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): a logout in a tab that never used its
// session's tokens, as another tab's login lands, deleted that login's freshly stored key. Keys are
// now deleted only when known for the session's own tokens.
import { IDBFactory, IDBObjectStore as FakeStore } from 'fake-indexeddb'
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

it("a logout made just before another tab's login lands never deletes that login's key", async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  msw.resetHandlers(...server.handlers)
  vi.stubGlobal('indexedDB', new IDBFactory())
  const realNow = Date.now.bind(Date)
  let elapsed = 0 // the time a key write takes on a slow disk
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + elapsed)
  const locks = createFakeLocks()
  const open = () => {
    const tab = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage: memoryStorage(), locks, lockTimeoutMs: 300, tabSyncTimeoutMs: 50 }))
    tabs.push(tab)
    return tab
  }
  const [a, b] = [open(), open()]
  await Promise.all([a.ready, b.ready])
  await b.login(ada) // S1; a adopts it
  await vi.waitFor(() => expect(a.getSession()).not.toBeNull())

  let logout: Promise<unknown> | undefined
  const put = FakeStore.prototype.put
  vi.spyOn(FakeStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args: unknown[]) {
    const request = put.apply(this, args as never)
    if (!logout) {
      logout = a.logout() // the user logs out in tab a as b's login answer arrives
      elapsed += 5
    }
    return request
  } as never)
  const s2 = await b.login(ada)
  await logout
  await new Promise((resolve) => setTimeout(resolve, 200))
  // The login came after the logout: it is the session every tab ends on (as designed).
  expect([a.getSession()?.accessToken, b.getSession()?.accessToken]).toEqual([s2.accessToken, s2.accessToken])

  const reloaded = open()
  await reloaded.ready
  expect(reloaded.getSession()?.accessToken).toBe(s2.accessToken)
  const status = (await reloaded.fetch(API)).status
  expect({ status, loggedIn: !!b.getSession() }).toEqual({ status: 200, loggedIn: true })
})
