// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): a leading tab that refreshes a session it
// adopted, just after another tab's login stored a newer key, signed with that key and, refused,
// deleted it. Keys are now deleted only when known for the session's own tokens.
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

it("a leader's refresh crossing another tab's login never deletes that login's key", async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  msw.resetHandlers(...server.handlers)
  vi.stubGlobal('indexedDB', new IDBFactory())
  const locks = createFakeLocks()
  const open = () => {
    const tab = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage: memoryStorage(), locks, lockTimeoutMs: 300, tabSyncTimeoutMs: 50 }))
    tabs.push(tab)
    return tab
  }
  const leader = open()
  await leader.ready
  const other = open()
  await other.ready
  await other.login(ada) // S1, key K1
  await vi.waitFor(() => expect(leader.getSession()).not.toBeNull())

  const s2 = await other.login(ada) // S2, key K2 stored; the leader has not heard of it yet
  await leader.refresh().catch(() => undefined) // the leader's refresh timer fires at that moment
  await new Promise((resolve) => setTimeout(resolve, 400))
  expect(leader.getSession()?.accessToken).toBe(s2.accessToken) // both tabs on S2, as they should

  // A reload of either tab, or a new tab, on S2:
  const reloaded = open()
  await reloaded.ready
  expect(reloaded.getSession()?.accessToken).toBe(s2.accessToken)
  const expired: unknown[] = []
  reloaded.on('session-expired', (e) => expired.push(e))
  const status = (await reloaded.fetch(API)).status
  expect({ status, expired: expired.length, loggedIn: !!other.getSession(), refused: server.refused }).toEqual({ status: 200, expired: 0, loggedIn: true, refused: expect.anything() })
})
