import { delay, http, HttpResponse } from 'msw'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Session } from '../src/index.js'
import { BASE_URL, record, useClients, useMockAuthServer } from './helpers.js'

// Each session has an identity: what a request, a refresh or a listener started under stays with it.
const { server, mock } = useMockAuthServer({ users: { ada: 'lovelace', grace: 'hopper' } })
const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }
const API = `${BASE_URL}/api/me`

const { client } = useClients()
afterEach(() => {
  server.events.removeAllListeners()
})

/** The refresh tokens sent to the logout endpoint, i.e. revoked. */
function revocations(): string[] {
  const revoked: string[] = []
  server.events.on('request:start', async ({ request }) => {
    if (!request.url.endsWith('/auth/logout')) return
    const { refreshToken } = (await request.clone().json()) as { refreshToken?: string }
    if (refreshToken) revoked.push(refreshToken)
  })
  return revoked
}

/**
 * The refresh token each user's login answer carried. Keyed by user, not by order: two logins in
 * flight at once may be answered, and their events parsed, in either order.
 */
function issuedAtLogin(): Map<string, string> {
  const issued = new Map<string, string>()
  server.events.on('response:mocked', async ({ request, response }) => {
    if (!request.url.endsWith('/auth/login') || !response.ok) return
    const [{ username }, { refreshToken }] = (await Promise.all([request.clone().json(), response.clone().json()])) as [
      { username: string },
      { refreshToken: string },
    ]
    issued.set(username, refreshToken)
  })
  return issued
}

describe('a request runs under the session it was made in', () => {
  it.each([
    ['the same user', ADA],
    ['another user', GRACE],
  ])('a 401 that arrives after logout and a new login as %s is returned as it is, never replayed with the new session token', async (_, again) => {
    const auth = client()
    const first = await auth.login(ADA)
    const seen: (string | null)[] = []
    let answer: (() => void) | undefined
    server.use(
      http.get(API, async ({ request }) => {
        seen.push(request.headers.get('authorization'))
        await new Promise<void>((resolve) => (answer = resolve))
        return new HttpResponse(null, { status: 401 })
      }),
    )
    const response = auth.fetch(API)
    await vi.waitFor(() => expect(answer).toBeDefined())
    await auth.logout()
    await auth.login(again)
    answer!()
    expect((await response).status).toBe(401)
    expect(seen).toEqual([`Bearer ${first.accessToken}`])
    expect(mock().counts.refresh).toBe(0)
  })
})

describe('login', () => {
  it('two login() calls at once: the first rejects with aborted and its refresh token is revoked; the second holds the session', async () => {
    const auth = client()
    const issued = issuedAtLogin()
    const revoked = revocations()
    const [first, second] = await Promise.allSettled([auth.login(ADA), auth.login(GRACE)])
    expect(first).toMatchObject({ status: 'rejected', reason: { code: 'aborted' } })
    expect(second.status).toBe('fulfilled')
    expect(auth.getSession()?.claims.sub).toBe('grace')
    await vi.waitFor(() => expect(issued.size).toBe(2))
    // Every refresh token the server issued ends revoked or as the current one.
    await vi.waitFor(() => expect(revoked).toContain(issued.get('ada')))
    expect(revoked).not.toContain(issued.get('grace'))
  })

  it('a second login() replaces the first session and revokes it at the server', async () => {
    const auth = client()
    const issued = issuedAtLogin()
    const revoked = revocations()
    await auth.login(ADA)
    await auth.login(GRACE)
    await vi.waitFor(() => expect(revoked).toEqual([issued.get('ada')]))
    expect(auth.getSession()?.claims.sub).toBe('grace')
  })

  it('logout() from a login listener: login() rejects with aborted, and the last change is null like getSession()', async () => {
    const auth = client()
    auth.on('login', () => void auth.logout())
    const changes = record<Session | null>((listener) => auth.on('change', listener))
    await expect(auth.login(ADA)).rejects.toMatchObject({ code: 'aborted' })
    expect(auth.getSession()).toBeNull()
    expect(changes.at(-1)).toBeNull()
  })

  it('logout() from a refresh listener: refresh() rejects with no_session, and the last change is null like getSession()', async () => {
    const auth = client()
    await auth.login(ADA)
    auth.on('refresh', () => void auth.logout())
    const changes = record<Session | null>((listener) => auth.on('change', listener))
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'no_session' })
    expect(auth.getSession()).toBeNull()
    expect(changes).toEqual([null])
  })

  it.each([
    ['an opaque token with expires_in: 1e308', { expires_in: 1e308 }],
    ['an opaque token with expires_in: 0.001 (stale on arrival, renewed in a loop)', { expires_in: 0.001 }],
    ['a JWT exp near 1e306 and no expires_in', { exp: 1e306 }],
  ])('a login answered with %s rejects with invalid_response, keeps no session, and revokes what it got', async (_, odd) => {
    const auth = client()
    const revoked = revocations()
    const accessToken = 'exp' in odd ? await mock().issueAccessToken('ada', odd.exp) : 'opaque-token'
    server.use(
      http.post(`${BASE_URL}/auth/login`, () =>
        HttpResponse.json({ access_token: accessToken, refresh_token: 'rt-odd', ...('expires_in' in odd && { expires_in: odd.expires_in }) }),
      ),
    )
    await expect(auth.login(ADA)).rejects.toMatchObject({ code: 'invalid_response' })
    expect(auth.getSession()).toBeNull()
    await vi.waitFor(() => expect(revoked).toEqual(['rt-odd']))
    expect(mock().counts.refresh).toBe(0)
  })
})

describe('a refresh that lands late', () => {
  it('a refresh answered after logout and a new login never becomes the new session, and the server answer is revoked', async () => {
    const auth = client()
    await auth.login(ADA)
    const revoked = revocations()
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async () => {
        await delay(50)
        return HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), refreshToken: 'rt-late', expiresIn: 300 })
      }, { once: true }),
    )
    const late = auth.refresh()
    await auth.logout()
    const fresh = await auth.login(GRACE)
    await expect(late).rejects.toMatchObject({ code: 'no_session' })
    expect(auth.getSession()).toBe(fresh)
    await vi.waitFor(() => expect(revoked).toContain('rt-late'))
  })
})
