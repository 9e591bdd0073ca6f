// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (found by the real-browser test, flaky in one engine): a tab that logs out after it
// adopted tokens another tab rotated did not know those tokens' key, and left it in IndexedDB. It
// now takes the key it was last sure of: its session's, never a newer one's.
import { IDBFactory } from 'fake-indexeddb'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient } from '../../src/index.js'
import { dpop } from '../../src/dpop/index.js'
import { createFakeLocks } from '../helpers.js'
import { createDpopServer } from '../support/dpopServer.js'

const BASE_URL = 'https://api.example.com'
const API = `${BASE_URL}/api/me`
const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())
const tabs: AuthClient[] = []
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.destroy()
  vi.unstubAllGlobals()
})

it('a logout in a tab whose tokens another tab rotated deletes the session key', async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  msw.resetHandlers(...server.handlers)
  const idb = new IDBFactory()
  vi.stubGlobal('indexedDB', idb)
  const locks = createFakeLocks()
  const open = () => {
    const tab = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'rotated', storage: memoryStorage(), locks, lockTimeoutMs: 300, tabSyncTimeoutMs: 50 }))
    tabs.push(tab)
    return tab
  }
  const first = open()
  const second = open()
  await Promise.all([first.ready, second.ready])
  await first.login({ username: 'ada', password: 'lovelace' })
  await vi.waitFor(() => expect(second.getSession()?.accessToken).toBe(first.getSession()?.accessToken))
  expect((await second.fetch(API)).status).toBe(200) // the second tab is sure of the key now
  const before = second.getSession()!.accessToken
  await first.refresh() // rotated by the first tab (or its leader)
  await vi.waitFor(() => expect(second.getSession()?.accessToken).not.toBe(before))
  await second.logout()
  const stored = await new Promise<unknown>((resolve) => {
    const request = idb.open('tokenkeeper-dpop', 1)
    request.onsuccess = () => {
      const get = request.result.transaction('keys').objectStore('keys').get('rotated')
      get.onsuccess = () => resolve(get.result)
    }
  })
  expect(stored).toEqual([])
})
