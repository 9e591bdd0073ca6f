// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a third outside probe of tokenkeeper/dpop): a double submit. The login that lost to a
// newer one of its tab stored its key as the newest; a tab that had only adopted the live session
// then signed its refresh with that key, was refused, and the session ended everywhere. Only the
// newest login of a tab stores its key now.
import { IDBFactory } from 'fake-indexeddb'
import { delay, http } from 'msw'
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

it('a login that lost to a newer login of its tab never leaves its key in front of the live session', async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  let firstLoginSeen = false
  msw.resetHandlers(
    // The first login's answer is slow (it lands after the second), and so is a revocation.
    http.post(`${BASE_URL}/auth/login`, async () => void ((firstLoginSeen = true), await delay(150)), { once: true }),
    http.post(`${BASE_URL}/auth/logout`, async () => void (await delay(1_000)), { once: true }),
    ...server.handlers,
  )
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

  const first = other.login(ada).then(() => 'logged in', (e: { code?: string }) => e.code) // double submit
  await vi.waitFor(() => expect(firstLoginSeen).toBe(true))
  const live = await other.login(ada)
  expect(await first).toBe('aborted') // as designed: the newer login() wins
  await vi.waitFor(() => expect(leader.getSession()?.accessToken).toBe(live.accessToken))

  // The leader's refresh timer fires (or any tab that adopted the session makes a request).
  const outcome = await leader.refresh().then(() => 'refreshed', (e: { code?: string }) => e.code)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect({ outcome, leader: !!leader.getSession(), other: !!other.getSession(), refused: server.refused }).toEqual({ outcome: 'refreshed', leader: true, other: true, refused: [] })
  expect((await other.fetch(API)).status).toBe(200)
})
