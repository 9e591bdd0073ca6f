// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): a logout while IndexedDB fails never sent
// its revocation. It now goes without a proof (the server may still revoke the refresh token).
import { IDBFactory } from 'fake-indexeddb'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient } from '../../src/index.js'
import { dpop } from '../../src/dpop/index.js'
import { createDpopServer } from '../support/dpopServer.js'

const BASE_URL = 'https://api.example.com'
const ada = { username: 'ada', password: 'lovelace' }
const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())
const clients: AuthClient[] = []
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy()
  vi.unstubAllGlobals()
})

it('logout while IndexedDB fails: the revocation still reaches the server', async () => {
  const server = createDpopServer({ baseUrl: BASE_URL })
  msw.resetHandlers(...server.handlers)
  vi.stubGlobal('indexedDB', new IDBFactory())
  const storage = memoryStorage()
  const open = () => {
    const c = createAuthClient(dpop({ baseUrl: BASE_URL, storage, crossTab: false, storageTimeoutMs: 100 }))
    clients.push(c)
    return c
  }
  const first = open()
  const session = await first.login(ada)
  first.destroy()
  const reloaded = open()
  await reloaded.ready
  const refreshToken = server.issued.at(-1)!.split(':')[1]!
  vi.stubGlobal('indexedDB', { open: () => { throw new DOMException('disk I/O error', 'UnknownError') } })
  await reloaded.logout()
  expect(reloaded.getSession()).toBeNull()
  expect({ logoutRequests: server.stats.logout, refreshTokenLive: server.live(refreshToken) }).toEqual({ logoutRequests: 1, refreshTokenLive: false })
  void session
})
