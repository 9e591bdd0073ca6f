// @vitest-environment-options { "url": "https://app.example.com/" }
// Regression (a second outside probe of tokenkeeper/dpop): token_type { toLowerCase: 1 } threw inside
// the check, the login failed as network and the tokens were never revoked.
import { IDBFactory } from 'fake-indexeddb'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { createAuthClient, type AuthClient } from '../../src/index.js'
import { dpop } from '../../src/dpop/index.js'

const BASE_URL = 'https://api.example.com'
const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())
const clients: AuthClient[] = []
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy()
  vi.unstubAllGlobals()
})
const b64 = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')

it('token_type { "toLowerCase": 1 }: the login fails with invalid_response and the tokens are revoked', async () => {
  vi.stubGlobal('indexedDB', new IDBFactory())
  const revoked: unknown[] = []
  msw.resetHandlers(
    http.post(`${BASE_URL}/auth/login`, () =>
      HttpResponse.json({ accessToken: `${b64({ alg: 'HS256' })}.${b64({ sub: 'ada', exp: Math.floor(Date.now() / 1000) + 300 })}.sig`, refreshToken: 'rt-1', expiresIn: 300, token_type: { toLowerCase: 1 } }),
    ),
    http.post(`${BASE_URL}/auth/logout`, async ({ request }) => (revoked.push(await request.json()), new HttpResponse(null, { status: 204 }))),
  )
  const auth = createAuthClient(dpop({ baseUrl: BASE_URL, crossTab: false }))
  clients.push(auth)
  const error = await auth.login({ username: 'ada', password: 'lovelace' }).then(() => 'logged in', (e: { code?: string }) => e.code)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect({ error, revoked: revoked.length }).toEqual({ error: 'invalid_response', revoked: 1 })
})
