// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): a second login that the client refuses or
// drops, after its key was stored, took the first session's key with it. IndexedDB now keeps the
// keys newest last, and a revocation removes only its own.
import { IDBFactory } from 'fake-indexeddb'
import { delay, http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient } from '../../src/index.js'
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

const b64 = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')

for (const how of ['the second login is answered with a lifetime the client refuses', 'the page is destroyed while its second login is in flight'] as const) {
  it(`${how}: the first session keeps its key, for a reload`, async () => {
    const server = createDpopServer({ baseUrl: BASE_URL })
    msw.resetHandlers(...server.handlers)
    vi.stubGlobal('indexedDB', new IDBFactory())
    const storage = memoryStorage()
    const open = () => {
      const c = createAuthClient(dpop({ baseUrl: BASE_URL, storageKey: 'probe', storage, crossTab: false }))
      clients.push(c)
      return c
    }
    const page = open()
    const first = await page.login(ada)

    if (how === 'the second login is answered with a lifetime the client refuses') {
      msw.use(
        http.post(`${BASE_URL}/auth/login`, () =>
          HttpResponse.json({ accessToken: `${b64({ alg: 'HS256' })}.${b64({ sub: 'ada' })}.sig`, refreshToken: 'rt-odd', expiresIn: 0.5, tokenType: 'DPoP' }),
          { once: true },
        ),
      )
      const error = await page.login(ada).then(() => 'logged in', (e: { code?: string }) => e.code)
      expect(error).toBe('invalid_response')
      expect(page.getSession()?.accessToken).toBe(first.accessToken) // the first session stays: fine
    } else {
      msw.use(http.post(`${BASE_URL}/auth/login`, async () => void (await delay(100)), { once: true }))
      const second = page.login(ada).catch(() => undefined)
      page.destroy() // a reload, a navigation, an unmount: the first session stays in storage
      await second
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    if (how !== 'the page is destroyed while its second login is in flight') page.destroy()

    const reloaded = open()
    expect((await reloaded.ready)?.accessToken).toBe(first.accessToken)
    const expired: unknown[] = []
    reloaded.on('session-expired', (e) => expired.push(e))
    const status = (await reloaded.fetch(API)).status
    expect({ status, expired: expired.length, session: !!reloaded.getSession() }).toEqual({ status: 200, expired: 0, session: true })
  })
}
