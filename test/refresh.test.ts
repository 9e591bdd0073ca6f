import { delay, http, HttpResponse } from 'msw'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AuthError, createAuthClient, memoryStorage, type AuthClientOptions, type Session } from '../src/index.js'
import { BASE_URL, network, record, useMockAuthServer } from './helpers.js'
import { oauth2 } from '../src/oauth2/index.js'

const { server, mock, configure } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }
const API = `${BASE_URL}/api/me`
const MINUTE = 60_000

const clients: { destroy(): void }[] = []
function client(options: Partial<AuthClientOptions> = {}) {
  const auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false, ...options })
  clients.push(auth)
  return auth
}

beforeEach(() => {
  // Only time is faked: MSW's own microtasks and immediates must keep running.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: 1_800_000_000_000 })
})
afterEach(() => {
  for (const auth of clients.splice(0)) auth.destroy()
  vi.useRealTimers()
})

const { settle, elapse } = network()

describe('scheduled refresh', () => {
  it('requests never see a 401 across 24 simulated hours of 5-minute tokens with a request every 10 seconds, and about one refresh per token lifetime is made', async () => {
    const auth = client()
    await auth.login(ADA)
    let failures = 0
    for (let elapsed = 0; elapsed < 24 * 60 * MINUTE; elapsed += 10_000) {
      await elapse(10_000, 10_000)
      if ((await auth.fetch(API)).status !== 200) failures++
    }
    expect(failures).toBe(0)
    expect(mock().counts.unauthorized).toBe(0)
    // A 300 s token refreshed 60 s early lives 240 s: 24 h / 240 s = 360.
    expect(mock().counts.refresh).toBeGreaterThanOrEqual(359)
    expect(mock().counts.refresh).toBeLessThanOrEqual(362)
  }, 60_000)

  it('refreshes refreshMarginMs before expiry', async () => {
    const auth = client({ refreshMarginMs: 30_000 })
    await auth.login(ADA)
    await elapse(270_000 - 1)
    expect(mock().counts.refresh).toBe(0)
    await elapse(1)
    expect(mock().counts.refresh).toBe(1)
  })

  it('a 10-second token does not loop: the margin is capped at half its lifetime', async () => {
    configure({ accessTokenLifetimeSec: 10 })
    const auth = client()
    await auth.login(ADA)
    await elapse(60_000)
    // One refresh every 5 s, not one per tick.
    expect(mock().counts.refresh).toBeGreaterThanOrEqual(11)
    expect(mock().counts.refresh).toBeLessThanOrEqual(12)
    expect(auth.getSession()).not.toBeNull()
  })

  it('a 30-day token does not fire at once', async () => {
    configure({ accessTokenLifetimeSec: 30 * 86_400 })
    const auth = client()
    await auth.login(ADA)
    await elapse(MINUTE)
    expect(mock().counts.refresh).toBe(0)
    await vi.advanceTimersByTimeAsync(30 * 86_400_000 - 3 * MINUTE)
    await settle()
    expect(mock().counts.refresh).toBe(0)
    await elapse(2 * MINUTE)
    expect(mock().counts.refresh).toBe(1)
  })

  it('the clock jumps 2 hours with no timer firing, then visibilitychange: a refresh happens before the next request goes out', async () => {
    const auth = client()
    await auth.login(ADA)
    const order: string[] = []
    const track = ({ request }: { request: Request }) => void order.push(new URL(request.url).pathname)
    server.events.on('request:start', track)
    vi.setSystemTime(Date.now() + 120 * MINUTE)
    document.dispatchEvent(new Event('visibilitychange'))
    await settle()
    expect(mock().counts.refresh).toBe(1)
    expect((await auth.fetch(API)).status).toBe(200)
    expect(order).toEqual(['/auth/refresh', '/api/me'])
    server.events.removeListener('request:start', track)
  })

  it('attaches window listeners only while a session exists, and destroy() removes every one', async () => {
    const added = vi.spyOn(window, 'addEventListener')
    const removed = vi.spyOn(window, 'removeEventListener')
    const auth = client()
    await auth.ready
    expect(added).not.toHaveBeenCalled()
    await auth.login(ADA)
    expect(added).toHaveBeenCalled()
    auth.destroy()
    expect(removed.mock.calls.map((c) => c[0]).sort()).toEqual(added.mock.calls.map((c) => c[0]).sort())
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a restored session that expired while the app was closed is refreshed before ready settles', async () => {
    const storage = memoryStorage()
    const first = client({ storage })
    await first.login(ADA)
    first.destroy()
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const second = client({ storage })
    const changes = record((listener) => second.on('change', listener))
    const session = await second.ready
    expect(mock().counts.refresh).toBe(1)
    expect(session!.expiresAt).toBeGreaterThan(Date.now() + 4 * MINUTE)
    // The expired session was never shown.
    expect(changes).toEqual([session])
  })
})

describe('single flight', () => {
  it('50 concurrent requests on an expired token make exactly one refresh request, and all succeed', async () => {
    const auth = client()
    await auth.login(ADA)
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const responses = await Promise.all(Array.from({ length: 50 }, () => auth.fetch(API)))
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200))
    expect(mock().counts.refresh).toBe(1)
    expect(mock().counts.unauthorized).toBe(0)
  })

  it('refresh(), getAccessToken() and fetch share one request', async () => {
    const auth = client()
    await auth.login(ADA)
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const [session, token, response] = await Promise.all([auth.refresh(), auth.getAccessToken(), auth.fetch(API)])
    expect(token).toBe(session.accessToken)
    expect(response.status).toBe(200)
    expect(mock().counts.refresh).toBe(1)
  })

  it('three requests that get 401 together cause one refresh, and each is replayed once', async () => {
    const auth = client()
    const first = await auth.login(ADA)
    let rejected = 0
    server.use(
      http.get(API, ({ request }) => {
        if (request.headers.get('authorization') === `Bearer ${first.accessToken}`) {
          rejected++
          return new HttpResponse(null, { status: 401 })
        }
        return HttpResponse.json({ ok: true })
      }),
    )
    const statuses = await Promise.all([auth.fetch(API), auth.fetch(API), auth.fetch(API)].map(async (r) => (await r).status))
    expect(statuses).toEqual([200, 200, 200])
    expect(rejected).toBe(3)
    expect(mock().counts.refresh).toBe(1)
  })

  it('a rotated refresh token replaces the old one before any waiting caller resumes', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    await auth.login(ADA)
    const before = JSON.parse(storage.getItem('tokenkeeper.session') as string).refreshToken
    const seen: string[] = []
    await auth.refresh().then(() => seen.push(JSON.parse(storage.getItem('tokenkeeper.session') as string).refreshToken))
    expect(seen[0]).not.toBe(before)
    // The old token is burnt at the server (reuse detection); the new one works.
    await expect(auth.refresh()).resolves.toBeDefined()
    expect(mock().counts.reuseDetected).toBe(0)
  })

  it('keeps the old refresh token when the server does not rotate it', async () => {
    configure({ rotateRefreshTokens: false })
    const auth = client()
    await auth.login(ADA)
    await auth.refresh()
    await auth.refresh()
    expect(mock().counts.refresh).toBe(2)
    expect(auth.getSession()).not.toBeNull()
  })

  it.each([
    ['a new login', false],
    ['a logout and a new login', true],
  ])('a refresh in flight across %s rejects with no_session instead of resolving with the new session, and its late tokens are revoked', async (_, logoutFirst) => {
    const auth = client()
    await auth.login(ADA)
    let release: (() => void) | undefined
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async () => {
        await new Promise<void>((resolve) => (release = resolve))
        return HttpResponse.json({ accessToken: 'stale-token', refreshToken: 'stale-rt', expiresIn: 300 })
      }, { once: true }),
    )
    const revoked: unknown[] = []
    server.events.on('request:start', async ({ request }) => {
      if (request.url.endsWith('/auth/logout')) revoked.push(((await request.clone().json()) as { refreshToken?: string }).refreshToken)
    })
    const stale = auth.refresh()
    await vi.waitFor(() => expect(release).toBeDefined())
    if (logoutFirst) await auth.logout()
    const fresh = await auth.login(ADA)
    release!()
    await expect(stale).rejects.toMatchObject({ code: 'no_session' })
    expect(auth.getSession()).toBe(fresh)
    await vi.waitFor(() => expect(revoked).toContain('stale-rt'))
    server.events.removeAllListeners()
  })
})

describe('failures', () => {
  it('refresh answered 500, then 200: the session survives, error was emitted, callers get the token', async () => {
    const auth = client()
    await auth.login(ADA)
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    mock().failNextRefreshes(1, { kind: 'server-error' })
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const token = auth.getAccessToken()
    await elapse(2_000)
    await expect(token).resolves.toBe(auth.getSession()!.accessToken)
    expect(errors.map((e) => [e.code, e.status])).toEqual([['server', 500]])
    expect(mock().counts.refresh).toBe(2)
  })

  it('refresh answered invalid_grant: session-expired once, storage empty, callers rejected', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    await auth.login(ADA)
    const expired = record<{ error: AuthError }>((listener) => auth.on('session-expired', listener))
    const changes = record((listener) => auth.on('change', listener))
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const callers = await Promise.allSettled([auth.getAccessToken(), auth.getAccessToken(), auth.refresh()])
    expect(callers.map((c) => c.status === 'rejected' && (c.reason as AuthError).code)).toEqual(Array(3).fill('session_expired'))
    expect(expired).toHaveLength(1)
    expect(expired[0]!.error.code).toBe('session_expired')
    expect(changes).toEqual([null])
    expect(storage.getItem('tokenkeeper.session')).toBeNull()
    expect(auth.getSession()).toBeNull()
    expect(await auth.getAccessToken()).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a scheduled refresh answered 401 ends the session with session-expired', async () => {
    const auth = client()
    await auth.login(ADA)
    const expired = record((listener) => auth.on('session-expired', listener))
    server.use(http.post(`${BASE_URL}/auth/refresh`, () => new HttpResponse(null, { status: 401 })))
    await elapse(5 * MINUTE)
    expect(expired).toHaveLength(1)
    expect(auth.getSession()).toBeNull()
  })

  it('Retry-After on a 429 is honoured', async () => {
    const auth = client()
    await auth.login(ADA)
    mock().failNextRefreshes(1, { kind: 'rate-limited', retryAfterSec: 30 })
    await elapse(240_000)
    expect(mock().counts.refresh).toBe(1)
    await elapse(29_000)
    expect(mock().counts.refresh).toBe(1)
    await elapse(1_000)
    expect(mock().counts.refresh).toBe(2)
    expect(auth.getSession()!.expiresAt).toBeGreaterThan(Date.now() + 4 * MINUTE)
  })

  it('a Retry-After of 99999999 s while a caller waits: the caller gets the error after one request, the retry waits in the background, no timer overflow', async () => {
    const auth = client()
    await auth.login(ADA)
    mock().failNextRefreshes(3, { kind: 'rate-limited', retryAfterSec: 99_999_999 })
    const warn = vi.spyOn(process, 'emitWarning')
    await elapse(5 * MINUTE)
    const waiting = auth.getAccessToken().catch((error: unknown) => error)
    await elapse(1_000, 100)
    expect(await waiting).toMatchObject({ code: 'server', status: 429 })
    const requests = mock().counts.refresh
    await elapse(10 * MINUTE)
    expect(mock().counts.refresh).toBe(requests)
    expect(auth.getSession()).not.toBeNull()
    expect(warn).not.toHaveBeenCalledWith(expect.stringContaining('TimeoutOverflowWarning'), expect.anything())
    expect(warn.mock.calls.flat().join()).not.toContain('TimeoutOverflow')
  })

  it('a background retry that is due at once (retryMinDelayMs: 0) is made, not lost in the flight that scheduled it', async () => {
    const auth = client({ retryMinDelayMs: 0, retryMaxDelayMs: 1 })
    await auth.login(ADA)
    mock().failNextRefreshes(1, { kind: 'server-error' })
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'server' })
    await elapse(10, 1)
    expect(mock().counts.refresh).toBe(2)
    expect(auth.getSession()).not.toBeNull()
  })

  it('a network error keeps the session and retries with backoff, never faster than the floor', async () => {
    const auth = client({ retryMinDelayMs: 2_000 })
    await auth.login(ADA)
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    mock().failNextRefreshes(3, { kind: 'network-error' })
    await elapse(240_000)
    expect(mock().counts.refresh).toBe(1)
    await elapse(1_999)
    expect(mock().counts.refresh).toBe(1)
    await elapse(50_000)
    expect(mock().counts.refresh).toBe(4)
    expect(errors.map((e) => e.code)).toEqual(['network', 'network', 'network'])
    expect(auth.getSession()).not.toBeNull()
  })

  it('retries at once when the browser comes back online', async () => {
    const auth = client({ retryMinDelayMs: 30_000 })
    await auth.login(ADA)
    mock().failNextRefreshes(1, { kind: 'network-error' })
    await elapse(240_000)
    expect(mock().counts.refresh).toBe(1)
    window.dispatchEvent(new Event('online'))
    await settle()
    expect(mock().counts.refresh).toBe(2)
  })

  it('a refresh that hangs is aborted after requestTimeoutMs and retried', async () => {
    const auth = client({ requestTimeoutMs: 5_000 })
    await auth.login(ADA)
    const errors = record<AuthError>((listener) => auth.on('error', listener))
    server.use(http.post(`${BASE_URL}/auth/refresh`, () => delay('infinite'), { once: true }))
    await elapse(239_000)
    // The clock must move while the request hangs, so no settling until the timeout fired.
    await vi.advanceTimersByTimeAsync(1_000)
    await vi.advanceTimersByTimeAsync(4_999)
    expect(errors).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    await settle()
    expect(errors.map((e) => e.code)).toEqual(['timeout'])
    expect(mock().counts.refresh).toBe(0)
    await elapse(60_000)
    expect(mock().counts.refresh).toBe(1)
    expect(auth.getSession()!.expiresAt).toBeGreaterThan(Date.now() + 3 * MINUTE)
  })

  it('a waiting caller gets the transient error after retryAttempts, and the session is kept', async () => {
    const auth = client({ retryAttempts: 2 })
    await auth.login(ADA)
    mock().failNextRefreshes(5, { kind: 'server-error', status: 503 })
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const outcome = auth.getAccessToken().catch((error: unknown) => ({ error, refreshes: mock().counts.refresh }))
    // Full jitter: the wait before the 2nd attempt is at most 2 s, before the 3rd at most 4 s.
    await elapse(10_000)
    const { error, refreshes } = (await outcome) as { error: AuthError; refreshes: number }
    expect(error).toMatchObject({ code: 'server', status: 503 })
    expect(refreshes).toBe(2)
    // Background retries go on with backoff after the caller was answered.
    expect(mock().counts.refresh).toBeGreaterThan(2)
    expect(auth.getSession()).not.toBeNull()
  })

  it('an access token is never handed out with less than minTokenValidityMs to live', async () => {
    const auth = client({ refreshMarginMs: 0, minTokenValidityMs: 5_000 })
    const first = await auth.login(ADA)
    vi.setSystemTime(first.expiresAt - 4_000)
    const token = await auth.getAccessToken()
    expect(token).not.toBe(first.accessToken)
    expect(mock().counts.refresh).toBe(1)
  })

  it('an oauth2 session without a refresh token expires at its expiry with session-expired', async () => {
    server.use(http.post(`${BASE_URL}/oauth/token`, async () => HttpResponse.json({ access_token: await mock().issueAccessToken('ada', 120), expires_in: 120 })))
    const auth = client({ protocol: oauth2() })
    await auth.login(ADA)
    const expired = record((listener) => auth.on('session-expired', listener))
    await elapse(60_000)
    expect(expired).toHaveLength(0)
    await elapse(60_000)
    expect(expired).toHaveLength(1)
    expect(auth.getSession()).toBeNull()
  })
})

describe('logout during refresh', () => {
  it('logout while a refresh is in flight: stays logged out, no event, no write, no timer afterwards', async () => {
    const storage = memoryStorage()
    const writes = vi.spyOn(storage, 'setItem')
    const auth = client({ storage })
    await auth.login(ADA)
    let release: (() => void) | undefined
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async () => {
        await new Promise<void>((resolve) => (release = resolve))
        return HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), refreshToken: 'late-rt', expiresIn: 300 })
      }),
    )
    const refreshing = auth.refresh()
    await vi.waitFor(() => expect(release).toBeDefined())
    await auth.logout()
    const events: string[] = []
    for (const type of ['login', 'refresh', 'logout', 'session-expired', 'error', 'change'] as const) auth.on(type, () => events.push(type))
    writes.mockClear()
    release!()
    await expect(refreshing).rejects.toMatchObject({ code: 'no_session' })
    await settle()
    expect(auth.getSession()).toBeNull()
    expect(events).toEqual([])
    expect(writes).not.toHaveBeenCalled()
    expect(storage.getItem('tokenkeeper.session')).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('logout while a refresh is in flight: the tokens that refresh brings are revoked, not left valid', async () => {
    const auth = client()
    await auth.login(ADA)
    let release: (() => void) | undefined
    const late = await mock().issueAccessToken('ada')
    const revoked: unknown[] = []
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async () => {
        await new Promise<void>((resolve) => (release = resolve))
        return HttpResponse.json({ accessToken: late, refreshToken: 'late-rt', expiresIn: 300 })
      }),
      http.post(`${BASE_URL}/auth/logout`, async ({ request }) => {
        revoked.push({ body: await request.json(), bearer: request.headers.get('authorization') })
        return new HttpResponse(null, { status: 204 })
      }),
    )
    const refreshing = auth.refresh()
    await vi.waitFor(() => expect(release).toBeDefined())
    await auth.logout()
    expect(revoked).toHaveLength(1)
    release!()
    await expect(refreshing).rejects.toMatchObject({ code: 'no_session' })
    await settle()
    expect(revoked[1]).toEqual({ body: { refreshToken: 'late-rt' }, bearer: `Bearer ${late}` })
    expect(auth.getSession()).toBeNull()
  })

  it('destroy while a refresh is in flight: the rotated tokens are stored for the next client, whose refresh sends them', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    await auth.login(ADA)
    let release: (() => void) | undefined
    const sent: unknown[] = []
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async ({ request }) => {
        sent.push(await request.clone().json())
        if (sent.length > 1) return undefined // the mock server answers the next client
        await new Promise<void>((resolve) => (release = resolve))
        return HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), refreshToken: 'late-rt', expiresIn: 300 })
      }),
    )
    const refreshing = auth.refresh()
    await vi.waitFor(() => expect(release).toBeDefined())
    auth.destroy()
    release!()
    await expect(refreshing).rejects.toMatchObject({ code: 'destroyed' })
    await settle()
    const next = client({ storage })
    await next.ready
    await next.refresh().catch(() => undefined)
    expect(sent[1]).toEqual({ refreshToken: 'late-rt' })
  })

  it('a caller waiting out a backoff is released by logout with null', async () => {
    const auth = client()
    await auth.login(ADA)
    mock().failNextRefreshes(1, { kind: 'server-error' })
    vi.setSystemTime(Date.now() + 10 * MINUTE)
    const token = auth.getAccessToken()
    await settle()
    await auth.logout()
    await expect(token).resolves.toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('listeners', () => {
  it('a listener that throws changes nothing', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const storage = memoryStorage()
    const auth = client({ storage })
    for (const type of ['login', 'refresh', 'change'] as const) {
      auth.on(type, () => {
        throw new Error(`listener of ${type} is broken`)
      })
    }
    const seen: Session[] = []
    auth.on('refresh', (session) => seen.push(session))
    await auth.login(ADA)
    await elapse(240_000)
    expect(seen).toHaveLength(1)
    expect(auth.getSession()).toBe(seen[0])
    expect(JSON.parse(storage.getItem('tokenkeeper.session') as string).accessToken).toBe(seen[0]!.accessToken)
    expect((await auth.fetch(API)).status).toBe(200)
    await elapse(240_000)
    expect(mock().counts.refresh).toBe(2)
  })
})

describe('very short tokens', () => {
  it('a 4-second token is not refreshed on every request: requests use it until half its life', async () => {
    configure({ accessTokenLifetimeSec: 4 })
    const auth = client()
    await auth.login(ADA)
    for (let i = 0; i < 5; i++) expect((await auth.fetch(API)).status).toBe(200)
    expect(mock().counts.refresh).toBe(0)
    await elapse(2_000)
    expect(mock().counts.refresh).toBe(1)
  })
})
