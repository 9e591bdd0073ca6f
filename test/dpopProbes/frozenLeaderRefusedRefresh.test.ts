// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a third outside probe of tokenkeeper/dpop): a refresh refused after taking over from a
// frozen leader deleted the key while the client then found the session renewed by that leader.
// A refused refresh leaves the key now.
import { IDBFactory } from 'fake-indexeddb'
import { http } from 'msw'
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

/** A BroadcastChannel whose tab can be frozen: nothing in or out until it thaws. */
const Real = globalThis.BroadcastChannel
class FreezableChannel {
  static all: FreezableChannel[] = []
  onmessage: ((event: MessageEvent) => void) | null = null
  frozen = false
  #inner: BroadcastChannel
  #in: MessageEvent[] = []
  #out: unknown[] = []
  constructor(name: string) {
    this.#inner = new Real(name)
    this.#inner.onmessage = (event) => (this.frozen ? this.#in.push(event) : this.onmessage?.(event))
    FreezableChannel.all.push(this)
  }
  postMessage(message: unknown) {
    if (this.frozen) this.#out.push(message)
    else this.#inner.postMessage(message)
  }
  close() {
    this.#inner.close()
  }
  thaw() {
    this.frozen = false
    for (const message of this.#out.splice(0)) this.#inner.postMessage(message)
    for (const event of this.#in.splice(0)) this.onmessage?.(event)
  }
}

it("a refresh refused after taking over from a frozen leader never deletes the key of the session's newer rotation", async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  let refreshes = 0
  msw.resetHandlers(
    // The leader thaws as the follower's refresh (the second) reaches the server.
    http.post(`${BASE_URL}/auth/refresh`, () => void (++refreshes === 2 && FreezableChannel.all[0]!.thaw())),
    ...server.handlers,
  )
  vi.stubGlobal('indexedDB', new IDBFactory())
  vi.stubGlobal('BroadcastChannel', FreezableChannel)
  const locks = createFakeLocks()
  const open = () => {
    const tab = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage: memoryStorage(), locks, lockTimeoutMs: 300, tabSyncTimeoutMs: 50 }))
    tabs.push(tab)
    return tab
  }
  const leader = open()
  await leader.ready
  const follower = open()
  await follower.ready
  await new Promise((resolve) => setTimeout(resolve, 100))
  const s1 = await follower.login(ada) // the follower logs in: it knows the key of rt1
  await vi.waitFor(() => expect(leader.getSession()?.accessToken).toBe(s1.accessToken))

  FreezableChannel.all[0]!.frozen = true
  const s2 = await leader.refresh() // rt1 -> rt2; the news stays in the frozen tab
  const outcome = await follower.refresh().then(() => 'refreshed', (e: { code?: string }) => e.code)
  await new Promise((resolve) => setTimeout(resolve, 200))
  // The core recovers: both tabs keep the session (the newer rotation, or one after it).
  expect({ leader: !!leader.getSession(), follower: !!follower.getSession() }).toEqual({ leader: true, follower: true })
  expect(follower.getSession()?.accessToken).toBe(leader.getSession()?.accessToken)
  void s2
  void outcome

  // A new tab (or a reload) on that session:
  const fresh = open()
  await fresh.ready
  const expired: unknown[] = []
  fresh.on('session-expired', (e) => expired.push(e))
  const status = (await fresh.fetch(API)).status
  expect({ status, expired: expired.length, refused: server.refused }).toEqual({ status: 200, expired: 0, refused: ['invalid_grant'] })
})
