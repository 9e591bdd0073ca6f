import { jwtDecode } from 'jwt-decode'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMockAuthServer, type MockAuthServer } from '../src/testing/index.js'

const BASE = 'https://auth.test.example'
const server = setupServer()
let mock: MockAuthServer
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => server.resetHandlers())
afterAll(() => server.close())

function start(options: Parameters<typeof createMockAuthServer>[0] = {}) {
  mock = createMockAuthServer({ baseUrl: BASE, ...options })
  server.use(...mock.handlers)
  return mock
}
const post = (path: string, body: unknown) =>
  fetch(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const login = async () => (await post('/auth/login', { username: 'ada', password: 'lovelace' })).json() as Promise<Record<string, string | number>>

describe('tokenkeeper/testing: createMockAuthServer', () => {
  it('issues real JWTs with sub, iat and exp for the configured lifetime', async () => {
    start({ accessTokenLifetimeSec: 42 })
    const tokens = await login()
    const claims = jwtDecode<{ sub: string; iat: number; exp: number }>(tokens.accessToken as string)
    expect(claims.sub).toBe('ada')
    expect(claims.exp - claims.iat).toBe(42)
    expect(tokens.expiresIn).toBe(42)
    expect((tokens.accessToken as string).split('.')).toHaveLength(3)
  })

  it('refuses wrong passwords and unknown users with 401', async () => {
    start({ users: { grace: 'hopper' } })
    expect((await post('/auth/login', { username: 'grace', password: 'nope' })).status).toBe(401)
    expect((await post('/auth/login', { username: 'ada', password: 'lovelace' })).status).toBe(401)
    expect((await post('/auth/login', { username: 'grace', password: 'hopper' })).status).toBe(200)
  })

  it('rotates refresh tokens, and a reused one revokes its whole family', async () => {
    start()
    const first = await login()
    const second = await (await post('/auth/refresh', { refreshToken: first.refreshToken })).json()
    expect(second.refreshToken).not.toBe(first.refreshToken)
    const reuse = await post('/auth/refresh', { refreshToken: first.refreshToken })
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toEqual({ error: 'invalid_grant' })
    expect(mock.counts.reuseDetected).toBe(1)
    // The family is gone: even the newest token no longer works.
    expect((await post('/auth/refresh', { refreshToken: second.refreshToken })).status).toBe(400)
  })

  it('two refreshes with one token that arrive together: the second is a reuse', async () => {
    start()
    const { refreshToken } = await login()
    const answers = await Promise.all([post('/auth/refresh', { refreshToken }), post('/auth/refresh', { refreshToken })])
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400])
    expect(mock.counts.reuseDetected).toBe(1)
  })

  it('injects failures into the next N refreshes, then behaves again', async () => {
    start()
    const { refreshToken } = await login()
    mock.failNextRefreshes(1, { kind: 'server-error', status: 502 })
    mock.failNextRefreshes(1, { kind: 'rate-limited', retryAfterSec: 7 })
    mock.failNextRefreshes(1, { kind: 'network-error' })
    mock.failNextRefreshes(1, { kind: 'invalid_grant' })
    expect((await post('/auth/refresh', { refreshToken })).status).toBe(502)
    const limited = await post('/auth/refresh', { refreshToken })
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '7'])
    await expect(post('/auth/refresh', { refreshToken })).rejects.toThrow()
    expect((await post('/auth/refresh', { refreshToken })).status).toBe(400)
    expect((await post('/auth/refresh', { refreshToken })).status).toBe(200)
    expect(mock.counts.refresh).toBe(5)
  })

  it('protects GET /api/me: 200 with a valid token, 401 without, expired, forged or revoked', async () => {
    start()
    const { accessToken, refreshToken } = await login()
    const me = (token?: string) => fetch(`${BASE}/api/me`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
    expect((await me(accessToken as string)).status).toBe(200)
    expect((await me()).status).toBe(401)
    expect((await me(`${accessToken}x`)).status).toBe(401)
    expect((await me(await mock.issueAccessToken('ada', 0))).status).toBe(401)
    expect((await me(await createMockAuthServer().issueAccessToken('ada'))).status).toBe(401)
    await fetch(`${BASE}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ refreshToken }),
    })
    expect((await me(accessToken as string)).status).toBe(401)
    expect(mock.counts).toMatchObject({ api: 6, unauthorized: 5, logout: 1 })
  })

  it('tells every token pair it issued, by login family, and what became of each refresh token', async () => {
    start({ users: { ada: 'lovelace', grace: 'hopper' } })
    const first = await login()
    const rotated = await (await post('/auth/refresh', { refreshToken: first.refreshToken })).json()
    const grace = await (await post('/auth/login', { username: 'grace', password: 'hopper' })).json()
    expect(mock.issued()).toEqual([
      { family: 1, sub: 'ada', grant: 'login', accessToken: first.accessToken, refreshToken: first.refreshToken, status: 'rotated' },
      { family: 1, sub: 'ada', grant: 'refresh', accessToken: rotated.accessToken, refreshToken: rotated.refreshToken, status: 'current' },
      { family: 2, sub: 'grace', grant: 'login', accessToken: grace.accessToken, refreshToken: grace.refreshToken, status: 'current' },
    ])
    await post('/auth/logout', { refreshToken: rotated.refreshToken })
    expect(mock.issued().map((tokens) => tokens.status)).toEqual(['revoked', 'revoked', 'current'])
  })

  it('logs every refresh request with the family of the token presented and the answer it got', async () => {
    start()
    const { refreshToken } = await login()
    mock.failNextRefreshes(1, { kind: 'server-error' })
    await post('/auth/refresh', { refreshToken })
    const { refreshToken: next } = await (await post('/auth/refresh', { refreshToken })).json()
    await post('/auth/refresh', { refreshToken }) // reused: the family is revoked
    await post('/auth/refresh', { refreshToken: next })
    await post('/auth/refresh', { refreshToken: 'rt-forged' })
    expect(mock.refreshes()).toEqual([
      { refreshToken, family: 1, outcome: 'injected', injected: 'server-error' },
      { refreshToken, family: 1, outcome: 'issued' },
      { refreshToken, family: 1, outcome: 'reused' },
      { refreshToken: next, family: 1, outcome: 'refused' },
      { refreshToken: 'rt-forged', family: undefined, outcome: 'refused' },
    ])
    expect(mock.counts.reuseDetected).toBe(1)
  })

  it('speaks oauth2 too: password and refresh_token grants, RFC 7009 revocation', async () => {
    start()
    const form = (fields: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(fields) })
    const tokens = await (await fetch(`${BASE}/oauth/token`, form({ grant_type: 'password', username: 'ada', password: 'lovelace' }))).json()
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 300 })
    const refreshed = await fetch(`${BASE}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }))
    expect(refreshed.status).toBe(200)
    expect((await fetch(`${BASE}/oauth/revoke`, form({ token: tokens.access_token, token_type_hint: 'access_token' }))).status).toBe(200)
    expect(mock.counts).toMatchObject({ login: 1, refresh: 1, revoke: 1 })
  })
})
