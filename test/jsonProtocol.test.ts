import { http, HttpResponse } from 'msw'
import { describe, expect, it } from 'vitest'
import { createAuthClient } from '../src/index.js'
import { jsonProtocol } from '../src/protocols/json.js'
import { BASE_URL, serialize, testAuthServer, useMockAuthServer } from './helpers.js'

const { server, mock } = useMockAuthServer()

const endpoints = { login: `${BASE_URL}/auth/login`, refresh: `${BASE_URL}/auth/refresh`, logout: `${BASE_URL}/auth/logout` }
const protocol = () => jsonProtocol(endpoints).connect(testAuthServer())

describe('jsonProtocol', () => {
  it('posts the credentials as JSON to the login endpoint', async () => {
    let seen: { type: string | null; body: unknown } | undefined
    server.use(
      http.post(endpoints.login, async ({ request }) => {
        seen = { type: request.headers.get('content-type'), body: await request.json() }
        return HttpResponse.json({ access_token: 'a', refresh_token: 'r', expires_in: 60 })
      }),
    )
    const tokens = await protocol().login({ email: 'ada@example.com', password: 'pw', otp: '123456' })
    expect(seen).toEqual({ type: 'application/json', body: { email: 'ada@example.com', password: 'pw', otp: '123456' } })
    expect(tokens).toEqual({ accessToken: 'a', refreshToken: 'r', expiresInSec: 60 })
  })

  it('accepts camelCase answers', async () => {
    server.use(http.post(endpoints.login, () => HttpResponse.json({ accessToken: 'a', refreshToken: 'r', expiresIn: 30 })))
    expect(await protocol().login({})).toEqual({ accessToken: 'a', refreshToken: 'r', expiresInSec: 30 })
  })

  it('refreshes with { refreshToken } in the body', async () => {
    let body: unknown
    server.use(
      http.post(endpoints.refresh, async ({ request }) => {
        body = await request.json()
        return HttpResponse.json({ accessToken: 'a2', expiresIn: 30 })
      }),
    )
    expect(await protocol().refresh('rt-1')).toEqual({ accessToken: 'a2', refreshToken: undefined, expiresInSec: 30 })
    expect(body).toEqual({ refreshToken: 'rt-1' })
  })

  it('refreshes with an empty body when the server keeps the refresh token in a cookie', async () => {
    let body: unknown
    server.use(
      http.post(endpoints.refresh, async ({ request }) => {
        body = await request.json()
        return HttpResponse.json({ accessToken: 'a2', expiresIn: 30 })
      }),
    )
    await protocol().refresh(undefined)
    expect(body).toEqual({})
  })

  it('maps a refused refresh to session_expired and a 503 to server with its Retry-After', async () => {
    server.use(http.post(endpoints.refresh, () => HttpResponse.json({ error: 'invalid_grant' }, { status: 401 }), { once: true }))
    await expect(protocol().refresh('rt')).rejects.toMatchObject({ code: 'session_expired', status: 401 })
    server.use(http.post(endpoints.refresh, () => new HttpResponse('busy', { status: 503, headers: { 'retry-after': '7' } })))
    await expect(protocol().refresh('rt')).rejects.toMatchObject({ code: 'server', status: 503, retryAfterMs: 7_000 })
  })

  it('posts the refresh token to the logout endpoint and reports whether it was confirmed', async () => {
    let body: unknown
    server.use(
      http.post(endpoints.logout, async ({ request }) => {
        body = await request.json()
        return new HttpResponse(null, { status: 204 })
      }),
    )
    expect(await protocol().revoke('access', 'rt-9')).toBe(true)
    expect(body).toEqual({ refreshToken: 'rt-9' })
    server.use(http.post(endpoints.logout, () => new HttpResponse(null, { status: 500 })))
    expect(await protocol().revoke('access', 'rt-9')).toBe(false)
    server.use(http.post(endpoints.logout, () => HttpResponse.error()))
    expect(await protocol().revoke('access', 'rt-9')).toBe(false)
  })

  it('rejects with network when the request fails, naming the operation and URL', async () => {
    server.use(http.post(endpoints.login, () => HttpResponse.error()))
    await expect(protocol().login({})).rejects.toMatchObject({
      code: 'network',
      message: expect.stringContaining(`login: POST ${endpoints.login}`),
    })
  })

  it('rejects with timeout when the server does not answer in time', async () => {
    server.use(http.post(endpoints.login, () => new Promise<Response>(() => {})))
    const slow = jsonProtocol(endpoints).connect(testAuthServer(20))
    await expect(slow.login({})).rejects.toMatchObject({ code: 'timeout' })
  })

  const cyclic: Record<string, unknown> = { username: 'ada', password: 'hunter2' }
  cyclic.self = cyclic
  it.each([
    ['a BigInt', { username: 'ada', password: 'hunter2', pin: 1234n }],
    ['a cycle', cyclic],
    ['a toJSON that gives nothing', { username: 'ada', password: 'hunter2', toJSON: () => undefined }],
  ])('login() with credentials holding %s rejects with invalid_argument, sends nothing and echoes no value', async (_, credentials) => {
    const auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    const error = await auth.login(credentials).catch((error: unknown) => error)
    expect(error).toMatchObject({ name: 'AuthError', code: 'invalid_argument', message: 'login: the credentials cannot be sent as JSON' })
    expect(serialize(error)).not.toMatch(/hunter2|1234/)
    expect(mock().counts.login).toBe(0)
    auth.destroy()
  })
})
