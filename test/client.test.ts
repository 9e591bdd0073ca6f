import { http, HttpResponse } from 'msw'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AuthError, createAuthClient, memoryStorage, webStorage, type Session } from '../src/index.js'
import { BASE_URL, record, serialize, useClients, useMockAuthServer } from './helpers.js'
import { oauth2 } from '../src/oauth2/index.js'

const { server, mock } = useMockAuthServer()
const KEY = 'tokenkeeper.session'
const ADA = { username: 'ada', password: 'lovelace' }

const { client, track } = useClients()
afterEach(() => {
  localStorage.clear()
})

describe('login', () => {
  it('stores the session, emits login then change, and resolves to the session', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    const events: string[] = []
    auth.on('login', () => events.push('login'))
    auth.on('change', (session) => events.push(`change:${session?.claims.sub}`))
    const session = await auth.login(ADA)
    expect(session.claims.sub).toBe('ada')
    expect(auth.getSession()).toBe(session)
    expect(events).toEqual(['login', 'change:ada'])
    await vi.waitFor(() => expect(storage.getItem(KEY)).toContain(session.accessToken))
  })

  it('never exposes the refresh token on the session', async () => {
    const session = await client().login(ADA)
    expect(Object.keys(session).sort()).toEqual(['accessToken', 'claims', 'expiresAt'])
  })

  it('keeps the same session object until the session changes', async () => {
    const auth = client()
    await auth.login(ADA)
    expect(auth.getSession()).toBe(auth.getSession())
  })

  it('rejects wrong credentials with invalid_credentials and changes nothing', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    const changes = record((listener) => auth.on('change', listener))
    await expect(auth.login({ username: 'ada', password: 'wrong' })).rejects.toMatchObject({ code: 'invalid_credentials', status: 401 })
    expect(auth.getSession()).toBeNull()
    expect(changes).toEqual([])
    expect(storage.getItem(KEY)).toBeNull()
  })

  it('a failed login keeps the session that was there', async () => {
    const auth = client()
    const session = await auth.login(ADA)
    await expect(auth.login({ username: 'ada', password: 'wrong' })).rejects.toBeInstanceOf(AuthError)
    expect(auth.getSession()).toBe(session)
  })

  it.each([
    ['an HTML page', () => new HttpResponse('<html>maintenance</html>', { headers: { 'content-type': 'text/html' } })],
    ['no access token', () => HttpResponse.json({ refresh_token: 'r', expires_in: 60 })],
    ['expires_in of zero', () => HttpResponse.json({ access_token: 'a', expires_in: 0 })],
    ['expires_in as a string', () => HttpResponse.json({ access_token: 'a', expires_in: '3600' })],
    ['a negative expires_in', () => HttpResponse.json({ access_token: 'a', expires_in: -5 })],
    ['an opaque token without expires_in', () => HttpResponse.json({ access_token: 'opaque' })],
    ['a JSON array', () => HttpResponse.json([1, 2])],
  ])('rejects a 200 with %s as invalid_response and changes nothing', async (_, answer) => {
    server.use(http.post(`${BASE_URL}/auth/login`, answer))
    const storage = memoryStorage()
    const auth = client({ storage })
    const events = record((listener) => auth.on('change', listener))
    await expect(auth.login(ADA)).rejects.toMatchObject({ code: 'invalid_response' })
    expect(auth.getSession()).toBeNull()
    expect(events).toEqual([])
    expect(storage.getItem(KEY)).toBeNull()
  })

  it.each([
    ['a misspelt event', 'session-expird', () => undefined],
    ['a listener that is not a function', 'session-expired', 'router.push'],
  ])('on() throws invalid_argument for %s instead of never calling it', (_, type, listener) => {
    expect(() => client().on(type as never, listener as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }))
  })

  it('rejects credentials that are not an object with invalid_argument', async () => {
    await expect(client().login('ada:lovelace' as never)).rejects.toMatchObject({ code: 'invalid_argument' })
  })

  it('never puts the credentials in storage, events, errors or the console', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    const seen: unknown[] = []
    for (const type of ['login', 'change', 'error', 'logout'] as const) auth.on(type, (payload) => seen.push(payload))
    const logged = [vi.spyOn(console, 'log'), vi.spyOn(console, 'error'), vi.spyOn(console, 'warn')]
    const secret = { username: 'ada', password: 'lovelace' }
    await auth.login(secret)
    const failure = await auth.login({ username: 'ada', password: 'P4ssw0rd-wrong' }).catch((error: unknown) => error)
    await vi.waitFor(() => expect(storage.getItem(KEY)).not.toBeNull())
    const everything = [serialize(seen), serialize(failure), String(storage.getItem(KEY)), ...logged.map((spy) => serialize(spy.mock.calls))]
    for (const text of everything) {
      expect(text).not.toContain('lovelace')
      expect(text).not.toContain('P4ssw0rd-wrong')
    }
  })

  it('accepts expiry that only the JWT gives', async () => {
    const token = await mock().issueAccessToken('ada', 120)
    server.use(http.post(`${BASE_URL}/auth/login`, () => HttpResponse.json({ access_token: token })))
    const before = Date.now()
    const session = await client().login(ADA)
    expect(session.expiresAt).toBeGreaterThanOrEqual(before + 119_000)
    expect(session.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000)
  })

  it('keeps an opaque access token with claims {} when expires_in is given', async () => {
    server.use(http.post(`${BASE_URL}/auth/login`, () => HttpResponse.json({ access_token: 'opaque-abc', expires_in: 60 })))
    expect((await client().login(ADA)).claims).toEqual({})
  })

  it('rejects with aborted, and revokes the new tokens, when logout() is called while logging in', async () => {
    let release: (() => void) | undefined
    server.use(
      http.post(`${BASE_URL}/auth/login`, async () => {
        await new Promise<void>((resolve) => (release = resolve))
        return HttpResponse.json({ access_token: 'a', refresh_token: 'r-late', expires_in: 60 })
      }),
    )
    const revoked: unknown[] = []
    server.use(http.post(`${BASE_URL}/auth/logout`, async ({ request }) => void revoked.push(await request.json())))
    const auth = client()
    const login = auth.login(ADA)
    await vi.waitFor(() => expect(release).toBeDefined())
    await auth.logout()
    release!()
    await expect(login).rejects.toMatchObject({ code: 'aborted' })
    expect(auth.getSession()).toBeNull()
    await vi.waitFor(() => expect(revoked).toEqual([{ refreshToken: 'r-late' }]))
  })
})

describe('storage and ready', () => {
  it('ready restores a stored session without a request', async () => {
    const storage = memoryStorage()
    const first = client({ storage })
    const session = await first.login(ADA)
    await vi.waitFor(() => expect(storage.getItem(KEY)).not.toBeNull())
    const logins = mock().counts.login
    const second = client({ storage })
    const changes = record((listener) => second.on('change', listener))
    const restored = await second.ready
    expect(restored).toEqual(session)
    expect(second.getSession()).toEqual(session)
    expect(changes).toEqual([session])
    expect(mock().counts.login).toBe(logins)
    expect(mock().counts.refresh).toBe(0)
  })

  it('restores from window.localStorage passed as it is', async () => {
    await client({ storage: window.localStorage }).login(ADA)
    await vi.waitFor(() => expect(localStorage.getItem(KEY)).not.toBeNull())
    expect((await client({ storage: window.localStorage }).ready)?.claims.sub).toBe('ada')
  })

  it('writes access and refresh token as one record', async () => {
    const auth = client({ storage: webStorage('local') })
    await auth.login(ADA)
    await vi.waitFor(() => expect(localStorage.length).toBe(1))
    const record = JSON.parse(localStorage.getItem(KEY)!)
    expect(record).toMatchObject({ v: 1, accessToken: expect.any(String), refreshToken: expect.stringMatching(/^rt-/) })
  })

  it.each([['{broken'], ['{"v":1,"accessToken":42}'], ['null'], ['{"v":1,"accessToken":"a","expiresAt":"soon","receivedAt":1}']])(
    'treats a corrupt stored record %s as logged out and removes it',
    async (raw) => {
      localStorage.setItem(KEY, raw)
      const auth = client({ storage: webStorage('local') })
      expect(await auth.ready).toBeNull()
      expect(auth.getSession()).toBeNull()
      expect(localStorage.getItem(KEY)).toBeNull()
    },
  )

  it('starts logged out, with an error event, when the storage throws on read', async () => {
    const storage = memoryStorage()
    storage.getItem = () => {
      throw new DOMException('blocked', 'SecurityError')
    }
    const auth = createAuthClient({ baseUrl: BASE_URL, storage })
    track(auth)
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    await expect(auth.ready).resolves.toBeNull()
    expect(errors.map((error) => error.code)).toEqual(['storage'])
  })

  it('goes on in memory, with an error event, when the storage throws on write', async () => {
    const storage = memoryStorage()
    storage.setItem = () => {
      throw new DOMException('full', 'QuotaExceededError')
    }
    const auth = client({ storage })
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    const session = await auth.login(ADA)
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]).toMatchObject({ code: 'storage' })
    expect(serialize(errors[0])).not.toContain(session.accessToken)
    expect(auth.getSession()).toBe(session)
    expect((await auth.fetch(`${BASE_URL}/api/me`)).status).toBe(200)
  })

  it('a login made before ready settles wins over the stored session', async () => {
    const storage = memoryStorage()
    const old = client({ storage })
    await old.login(ADA)
    await vi.waitFor(() => expect(storage.getItem(KEY)).not.toBeNull())
    const slowStorage = { ...storage, getItem: (key: string) => new Promise<string | null>((resolve) => setTimeout(() => resolve(storage.getItem(key) as string | null), 20)) }
    const auth = client({ storage: slowStorage })
    const fresh = await auth.login(ADA)
    await auth.ready
    expect(auth.getSession()).toBe(fresh)
  })
})

describe('events', () => {
  it('a listener that throws does not stop the others, and login still resolves', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const auth = client()
    const seen: Session[] = []
    auth.on('login', () => {
      throw new Error('app bug')
    })
    auth.on('login', (session) => seen.push(session))
    await expect(auth.login(ADA)).resolves.toBeDefined()
    expect(seen).toHaveLength(1)
  })

  it('no token appears in any event payload other than a Session', async () => {
    const auth = client()
    const payloads: unknown[] = []
    auth.on('logout', (payload) => payloads.push(payload))
    auth.on('error', (payload) => payloads.push(payload))
    auth.on('session-expired', (payload) => payloads.push(payload))
    const session = await auth.login(ADA)
    mock().failNextRefreshes(1, { kind: 'server-error' })
    await auth.refresh().catch(() => undefined)
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    await auth.refresh().catch(() => undefined)
    const second = await auth.login(ADA)
    await auth.logout()
    expect(payloads.length).toBeGreaterThanOrEqual(3)
    const text = payloads.map(serialize).join('\n')
    expect(text).not.toContain(session.accessToken)
    expect(text).not.toContain(second.accessToken)
    expect(text).not.toMatch(/rt-\d/)
  })
})

describe('logout', () => {
  it('ends the session synchronously, then clears storage and emits logout and change', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    await auth.login(ADA)
    const events: unknown[] = []
    auth.on('logout', (payload) => events.push(['logout', payload]))
    auth.on('change', (payload) => events.push(['change', payload]))
    const done = auth.logout()
    expect(auth.getSession()).toBeNull()
    expect(events).toEqual([
      ['logout', { reason: 'user' }],
      ['change', null],
    ])
    await done
    expect(storage.getItem(KEY)).toBeNull()
    expect(await auth.getAccessToken()).toBeNull()
  })

  it('json: posts the refresh token to the logout endpoint and tells that it was confirmed', async () => {
    const auth = client()
    await auth.login(ADA)
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(mock().counts.logout).toBe(1)
  })

  it('oauth2: revokes the refresh token then the access token', async () => {
    const auth = client({ protocol: oauth2() })
    await auth.login(ADA)
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(mock().counts.revoke).toBe(2)
  })

  it('resolves, unconfirmed, when the server is down or answers 5xx; the local session is gone anyway', async () => {
    const auth = client()
    await auth.login(ADA)
    server.use(http.post(`${BASE_URL}/auth/logout`, () => HttpResponse.error()))
    expect(await auth.logout()).toEqual({ revoked: false })
    await auth.login(ADA)
    server.use(http.post(`${BASE_URL}/auth/logout`, () => new HttpResponse(null, { status: 502 })))
    expect(await auth.logout()).toEqual({ revoked: false })
    expect(auth.getSession()).toBeNull()
  })

  it('when logged out already, emits nothing and sends nothing', async () => {
    const auth = client()
    const events = record((listener) => auth.on('change', listener))
    expect(await auth.logout()).toEqual({ revoked: false })
    expect(events).toEqual([])
    expect(mock().counts.logout).toBe(0)
  })

  it('a revoked session no longer refreshes at the server', async () => {
    const auth = client()
    await auth.login(ADA)
    await auth.logout()
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'no_session' })
    expect(mock().counts.refresh).toBe(0)
  })
})

describe('destroy', () => {
  it('stops events and refuses new logins', async () => {
    const auth = client()
    const events = record((listener) => auth.on('change', listener))
    auth.destroy()
    await expect(auth.login(ADA)).rejects.toMatchObject({ code: 'destroyed' })
    expect(events).toEqual([])
  })
})
