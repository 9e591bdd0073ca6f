import { http, HttpResponse } from 'msw'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient, type AuthClientOptions } from '../src/index.js'
import { BASE_URL, createFakeLocks, record, useMockAuthServer } from './helpers.js'

const { server, mock } = useMockAuthServer()

let clients: AuthClient[] = []
afterEach(() => {
  for (const auth of clients) auth.destroy()
  clients = []
})
function open(options: Partial<AuthClientOptions> = {}) {
  const auth = createAuthClient({ baseUrl: BASE_URL, refreshTokenInCookie: true, storage: memoryStorage(), tabSyncTimeoutMs: 30, ...options })
  clients.push(auth)
  return auth
}

/** A server that keeps the refresh token in an HttpOnly cookie: refresh is an empty POST. */
function cookieRefresh(answer: () => Promise<Response> | Response) {
  const bodies: unknown[] = []
  server.use(
    http.post(`${BASE_URL}/auth/refresh`, async ({ request }) => {
      bodies.push(await request.json())
      return answer()
    }),
  )
  return bodies
}

describe('refreshTokenInCookie', () => {
  it('a page that starts with no session gets one with the cookie, without a login', async () => {
    const bodies = cookieRefresh(async () => HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), expiresIn: 300 }))
    const auth = open({ crossTab: false })
    const changes = record((listener) => auth.on('change', listener))
    const session = await auth.ready
    expect(session?.claims.sub).toBe('ada')
    expect(bodies).toEqual([{}])
    expect(changes).toEqual([session])
    expect(mock().counts.login).toBe(0)
  })

  it('without a valid cookie it starts logged out, silently', async () => {
    cookieRefresh(() => HttpResponse.json({ error: 'invalid_grant' }, { status: 401 }))
    const auth = open({ crossTab: false })
    const events = record((listener) => auth.on('session-expired', listener))
    const errors = record((listener) => auth.on('error', listener))
    expect(await auth.ready).toBeNull()
    expect(events).toEqual([])
    expect(errors).toEqual([])
  })

  it('reports a transient failure while resuming as an error event', async () => {
    cookieRefresh(() => new HttpResponse(null, { status: 503 }))
    const auth = open({ crossTab: false })
    const errors = record((listener) => auth.on('error', listener))
    expect(await auth.ready).toBeNull()
    expect(errors).toHaveLength(1)
  })

  it('two tabs opened together resume with one request: the second adopts the first one’s session', async () => {
    let refreshes = 0
    cookieRefresh(async () => {
      refreshes++
      return HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), expiresIn: 300 })
    })
    const locks = createFakeLocks()
    const a = open({ locks, storageKey: 'cookie-tabs' })
    const b = open({ locks, storageKey: 'cookie-tabs' })
    const [first, second] = await Promise.all([a.ready, b.ready])
    expect(refreshes).toBe(1)
    expect(first?.accessToken).toBeDefined()
    expect(second?.accessToken).toBe(first?.accessToken)
  })

  it('logout before the session has resumed still ends it at the server, which holds the cookie: no session comes back', async () => {
    let release: (() => void) | undefined
    cookieRefresh(async () => {
      await new Promise<void>((resolve) => (release = resolve))
      return HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), expiresIn: 300 })
    })
    const logouts: { authorization: string | null }[] = []
    server.use(
      http.post(`${BASE_URL}/auth/logout`, ({ request }) => {
        logouts.push({ authorization: request.headers.get('authorization') })
        return new HttpResponse(null, { status: 204 })
      }),
    )
    const auth = open({ crossTab: false })
    await vi.waitFor(() => expect(release).toBeDefined()) // the resume is on its way
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(logouts).toEqual([{ authorization: null }]) // the cookie alone identifies the session
    release!()
    expect(await auth.ready).toBeNull()
    expect(auth.getSession()).toBeNull()
  })

  it('is off by default: no request at start', async () => {
    const auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    clients.push(auth)
    expect(await auth.ready).toBeNull()
    expect(mock().counts.refresh).toBe(0)
  })

  it.each([
    ['refreshTokenInCookie alone', 'include', { refreshTokenInCookie: true }],
    ['refreshTokenInCookie and credentials: same-origin', 'same-origin', { refreshTokenInCookie: true, credentials: 'same-origin' as const }],
    ['neither', 'same-origin', { refreshTokenInCookie: false }],
  ])('with %s, login, refresh and logout go to the auth server with credentials %s', async (_, expected, options) => {
    const sent: (RequestCredentials | undefined)[] = []
    const auth = open({ crossTab: false, ...options, fetch: (input, init) => (sent.push(init?.credentials), fetch(input, init)) })
    await auth.ready
    sent.length = 0
    await auth.login({ username: 'ada', password: 'lovelace' })
    await auth.refresh()
    await auth.logout()
    expect(sent).toEqual([expected, expected, expected])
  })

  it('a second login() (switching user) revokes nothing: the revocation would carry the cookie, which now holds the new session', async () => {
    const auth = open({ crossTab: false })
    await auth.ready
    const logouts: unknown[] = []
    server.use(
      http.post(`${BASE_URL}/auth/login`, async ({ request }) => {
        const { username } = (await request.json()) as { username: string }
        return HttpResponse.json({ accessToken: await mock().issueAccessToken(username), expiresIn: 300 })
      }),
      http.post(`${BASE_URL}/auth/logout`, ({ request }) => {
        logouts.push(request.headers.get('authorization'))
        return new HttpResponse(null, { status: 204 })
      }),
    )
    await auth.login({ username: 'ada', password: 'lovelace' })
    const grace = await auth.login({ username: 'grace', password: 'hopper' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(logouts).toEqual([])
    expect(auth.getSession()).toBe(grace)
  })
})
