import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { memoryStorage, type AuthClientOptions, type Logger, type TokenStorage } from '../src/index.js'
import { AuthError } from '../src/errors.js'
import { transitionForLog, urlForLog } from '../src/log.js'
import { oauth2 } from '../src/oauth2/index.js'
import { createSessionState } from '../src/session.js'
import { createSessionMachine } from '../src/sessionMachine.js'
import { BASE_URL, useClients, useMockAuthServer, useTabs } from './helpers.js'

// The debug log (issue 15): each step of the session's life as a line a developer can read. Vitest
// runs src/ as the development build (DEV is true), the only build that logs.
const { server, mock, configure } = useMockAuthServer()
const { client } = useClients()
const { openTab, openTabs, channelName, locks } = useTabs('debug-log')
const ADA = { username: 'ada', password: 'lovelace' }

interface Line {
  message: string
  details: Record<string, unknown> | undefined
}

/** A logger that keeps every line, and the lines whose message starts with a prefix. */
function lines() {
  const kept: Line[] = []
  const logger: Logger = (message, details) => void kept.push({ message, details })
  const find = (prefix: string) => kept.filter((line) => line.message.startsWith(prefix))
  const exactly = (message: string) => kept.filter((line) => line.message === message)
  return { kept, logger, find, exactly, messages: () => kept.map((line) => line.message) }
}

/** Whether `expected` occur in `messages` in this order (other lines may come between). */
function inOrder(messages: string[], expected: string[]): boolean {
  let at = -1
  for (const message of expected) {
    at = messages.indexOf(message, at + 1)
    if (at < 0) return false
  }
  return true
}

/** A number of milliseconds that may be a few ms off (time passes between the steps). */
const about = (ms: number) => expect.closeTo(ms, -2)

/** A clock whose wall time can jump ahead (a laptop that slept), with real timers. */
function jumpingClock() {
  let offset = 0
  return {
    clock: { now: () => Date.now() + offset, setTimeout: (run: () => void, ms: number) => setTimeout(run, ms), clearTimeout: (handle: unknown) => clearTimeout(handle as number) },
    jump: (ms: number) => void (offset += ms),
  }
}

describe('debug log: turning it on', () => {
  it('debug: true writes each line to console.debug, prefixed [tokenkeeper], with its details', async () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined)
    const auth = client({ debug: true })
    await auth.login(ADA)
    expect(debug).toHaveBeenCalledWith('[tokenkeeper] refresh scheduled', expect.objectContaining({ inMs: about(240_000), marginMs: 60_000, why: 'refreshMarginMs before expiry' }))
    expect(debug.mock.calls.every(([message]) => String(message).startsWith('[tokenkeeper] '))).toBe(true)
  })

  it('logs nothing without debug or logger, and nothing with debug: false', async () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined)
    await client().login(ADA)
    await client({ debug: false }).login(ADA)
    expect(debug).not.toHaveBeenCalled()
  })

  it('a logger takes the lines instead of the console', async () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined)
    const log = lines()
    await client({ debug: true, logger: log.logger }).login(ADA)
    expect(log.messages()).toContain('refresh scheduled')
    expect(debug).not.toHaveBeenCalled()
  })

  it('a logger that throws never breaks the client: login, fetch with a 401 replay, refresh and logout work', async () => {
    const logger = vi.fn<Logger>(() => {
      throw new Error('the app logger is broken')
    })
    const auth = client({ logger })
    await auth.login(ADA)
    server.use(http.get(`${BASE_URL}/api/once`, () => HttpResponse.json({}, { status: 401 }), { once: true }), http.get(`${BASE_URL}/api/once`, () => HttpResponse.json({ ok: true })))
    expect((await auth.fetch(`${BASE_URL}/api/once`)).status).toBe(200)
    await auth.refresh()
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(logger).toHaveBeenCalled()
  })

  it('bad values of debug and logger throw a TypeError naming the option', () => {
    expect(() => client({ debug: 'yes' as unknown as boolean })).toThrow(/option "debug"/)
    expect(() => client({ logger: 'console' as unknown as Logger })).toThrow(/option "logger"/)
  })
})

describe('debug log: what each step says', () => {
  it('restore: what storage held, and a session that expired meanwhile being renewed', async () => {
    const storage = memoryStorage()
    const first = lines()
    await client({ storage, logger: first.logger }).ready
    expect(first.find('restore:').map((line) => line.message)).toEqual(['restore: no session in storage', 'restore: done, logged out'])

    const session = await client({ storage }).login(ADA)
    await vi.waitFor(() => expect(storage.getItem('tokenkeeper.session')).not.toBeNull())
    const sid = JSON.parse(String(storage.getItem('tokenkeeper.session'))).sid
    const kept = lines()
    expect(await client({ storage, logger: kept.logger }).ready).toEqual(session)
    expect(kept.find('restore:')).toEqual([
      { message: 'restore: a session found in storage', details: { sid, rotation: 0, expiresInMs: expect.any(Number), withRefreshToken: true } },
      { message: 'restore: done, with the stored session', details: { sid } },
    ])

    const { clock, jump } = jumpingClock()
    jump(10 * 60_000) // the app was closed for ten minutes: the 5-minute token expired
    const renewed = lines()
    await client({ storage, clock, logger: renewed.logger }).ready
    expect(renewed.messages()).toEqual(
      expect.arrayContaining(['restore: a session found in storage', 'restore: the stored session expired while the app was closed; renewing it', 'refresh started', 'refresh done']),
    )
    expect(renewed.find('restore: a session found')[0]!.details).toMatchObject({ sid, expiresInMs: expect.any(Number) })
    expect(renewed.find('restore: a session found')[0]!.details!.expiresInMs).toBeLessThan(0)
  })

  it('refresh scheduled: when (in ms and as a date) and why: the margin, half the lifetime, or the end of a session that cannot be renewed', async () => {
    const log = lines()
    await client({ logger: log.logger }).login(ADA)
    expect(log.find('refresh scheduled')[0]!.details).toEqual({
      inMs: about(240_000),
      dueAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      expiresInMs: about(300_000),
      marginMs: 60_000,
      why: 'refreshMarginMs before expiry',
    })

    configure({ accessTokenLifetimeSec: 10 })
    const short = lines()
    await client({ logger: short.logger }).login(ADA)
    expect(short.find('refresh scheduled')[0]!.details).toMatchObject({
      inMs: about(5_000),
      marginMs: 5_000,
      why: 'half the token lifetime before expiry (refreshMarginMs is more than half of it)',
    })

    // An oauth2 server that gives no refresh token: nothing can renew the session.
    server.use(http.post(`${BASE_URL}/oauth/token`, async () => HttpResponse.json({ access_token: await mock().issueAccessToken('ada', 300), expires_in: 300, token_type: 'Bearer' })))
    const once = lines()
    await client({ protocol: oauth2(), logger: once.logger }).login(ADA)
    expect(once.find('end of session scheduled')[0]!.details).toMatchObject({
      inMs: about(295_000),
      marginMs: 5_000,
      why: 'no refresh token: the session ends when the token has less than minTokenValidityMs left',
    })
  })

  it('refresh: started and done, with the session id and rotation; the request to the auth server by origin and path', async () => {
    const log = lines()
    const auth = client({ logger: log.logger })
    await auth.login(ADA)
    await auth.refresh()
    const [started] = log.find('refresh started')
    const sid = started!.details!.sid
    expect(sid).toEqual(expect.any(String))
    expect(started!.details).toEqual({ sid, rotation: 0, withRefreshToken: true })
    expect(log.find('refresh done')[0]!.details).toEqual({ sid, rotation: 1, expiresInMs: expect.any(Number), refreshTokenRotated: true })
    expect(log.find('auth server: answered 200 (refresh)')[0]!.details).toEqual({ method: 'POST', url: `${BASE_URL}/auth/refresh`, status: 200 })
  })

  it('retry: the failure, the attempt and the backoff delay, while a caller waits and in the background', async () => {
    const { clock, jump } = jumpingClock()
    const log = lines()
    const auth = client({ clock, logger: log.logger, retryMinDelayMs: 10, retryMaxDelayMs: 40 })
    await auth.login(ADA)

    // The token still works: nobody waits, the retry goes on in the background after the delay.
    mock().failNextRefreshes(1, { kind: 'server-error', status: 503 })
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'server', status: 503 })
    const [background] = log.find('refresh failed; retrying in the background')
    expect(background!.details).toEqual({ code: 'server', status: 503, attempt: 1, failures: 1, delayMs: expect.any(Number), why: 'exponential backoff with jitter' })
    expect(background!.details!.delayMs).toBeGreaterThanOrEqual(10)
    expect(background!.details!.delayMs).toBeLessThanOrEqual(20)
    await vi.waitFor(() => expect(log.find('refresh done')).toHaveLength(1))

    // The token expired (the laptop slept): the caller waits through the retries.
    jump(10 * 60_000)
    mock().failNextRefreshes(2, { kind: 'rate-limited', retryAfterSec: 0 })
    await auth.getAccessToken()
    expect(log.exactly('refresh failed; retrying').map((line) => line.details)).toEqual([
      { code: 'server', status: 429, retryAfterMs: 0, attempt: 1, failures: 1, delayMs: 10, why: 'the server asked to wait (Retry-After)' },
      { code: 'server', status: 429, retryAfterMs: 0, attempt: 2, failures: 2, delayMs: 10, why: 'the server asked to wait (Retry-After)' },
    ])
    expect(log.find('refresh done')).toHaveLength(2)
  })

  it('a refused refresh: the refusal with its code and status, then the expiry', async () => {
    const log = lines()
    const auth = client({ logger: log.logger })
    await auth.login(ADA)
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'session_expired' })
    const sid = log.find('refresh started')[0]!.details!.sid
    expect(log.find('refresh refused')).toEqual([{ message: 'refresh refused', details: { sid, code: 'session_expired', status: 400 } }])
    expect(log.find('session expired')).toEqual([{ message: 'session expired: its refresh was refused', details: { sid } }])
  })

  it('401 replay: origin and path of the request (never its query), the refresh, and the status of the replay', async () => {
    const log = lines()
    const auth = client({ logger: log.logger })
    await auth.login(ADA)
    server.use(http.get(`${BASE_URL}/api/orders`, () => HttpResponse.json({}, { status: 401 }), { once: true }), http.get(`${BASE_URL}/api/orders`, () => HttpResponse.json([])))
    expect((await auth.fetch(`${BASE_URL}/api/orders?api_key=s3cr3t-in-query#frag`)).status).toBe(200)
    await vi.waitFor(() => expect(log.find('401: replayed')).toHaveLength(1))
    expect(log.find('401:')).toEqual([
      { message: '401: refreshing to replay the request', details: { url: `${BASE_URL}/api/orders`, method: 'GET' } },
      { message: '401: replayed with a new token', details: { url: `${BASE_URL}/api/orders`, status: 200 } },
    ])
    expect(log.messages()).toContain('refresh done')
    expect(JSON.stringify(log.kept)).not.toContain('s3cr3t-in-query')
  })

  it('a replay answered 401 again goes to the caller, and the log says so with that status', async () => {
    const log = lines()
    const auth = client({ logger: log.logger })
    await auth.login(ADA)
    server.use(http.get(`${BASE_URL}/api/forbidden-ish`, () => HttpResponse.json({}, { status: 401 })))
    expect((await auth.fetch(`${BASE_URL}/api/forbidden-ish`)).status).toBe(401)
    await vi.waitFor(() => expect(log.find('401: replayed')).toHaveLength(1))
    expect(log.find('401: replayed')[0]!.details).toEqual({ url: `${BASE_URL}/api/forbidden-ish`, status: 401 })
  })

  it('storage: a storage that throws, and one that does not answer, with the operation and the key', async () => {
    const failing: TokenStorage = {
      getItem: () => null,
      setItem: () => {
        throw new DOMException('quota', 'QuotaExceededError')
      },
      removeItem: () => undefined,
    }
    const log = lines()
    const auth = client({ storage: failing, storageKey: 'app.session', logger: log.logger })
    await auth.login(ADA)
    expect(log.find('storage')).toEqual([{ message: 'storage failed; the session goes on in memory', details: { operation: 'setItem', key: 'app.session' } }])

    const hanging: TokenStorage = { getItem: () => new Promise(() => {}), setItem: () => undefined, removeItem: () => undefined }
    const slow = lines()
    await client({ storage: hanging, storageTimeoutMs: 20, logger: slow.logger }).ready
    expect(slow.find('storage')).toEqual([{ message: 'storage did not answer; given up on', details: { operation: 'getItem', key: 'tokenkeeper.session', timeoutMs: 20 } }])
    expect(slow.messages()).toContain('restore: no session in storage')
  })

  it('storage: an unusable record is said to be removed', async () => {
    const storage = memoryStorage()
    storage.setItem('tokenkeeper.session', '{ not json')
    const log = lines()
    await client({ storage, logger: log.logger }).ready
    expect(log.messages()).toEqual(expect.arrayContaining(['storage: the stored record is unusable; removing it', 'restore: no session in storage']))
  })
})

describe('debug log: tabs', () => {
  const tab = (options: Partial<AuthClientOptions> = {}) => {
    const log = lines()
    return { log, auth: openTab({ logger: log.logger, ...options }) }
  }

  it('the leader: the first tab takes the lead; messages sent and received name their type, sender and session, never the record', async () => {
    const a = tab()
    const b = tab()
    await Promise.all([a.auth.ready, b.auth.ready])
    await vi.waitFor(() => expect(a.log.messages()).toContain('this tab leads now: it alone sends refresh tokens, for every tab'))
    expect(b.log.messages()).not.toContain('this tab leads now: it alone sends refresh tokens, for every tab')

    await a.auth.login(ADA)
    await vi.waitFor(() => expect(b.auth.getSession()).not.toBeNull())
    const sent = a.log.find('tab message sent').find((line) => line.details!.type === 'session')!
    const sid = sent.details!.sid
    expect(sent.details).toEqual({ type: 'session', gen: expect.any(Number), cause: 'login', sid, rotation: 0 })
    const received = b.log.find('tab message received').find((line) => line.details!.type === 'session')!
    expect(received.details).toEqual({ ...sent.details, from: expect.any(String) })

    // A follower's refresh goes through the leader.
    await b.auth.refresh()
    expect(b.log.messages()).toEqual(expect.arrayContaining(['refresh: asking the leader tab to refresh', 'refresh: the leader tab is working on it']))
    expect(a.log.messages()).toEqual(expect.arrayContaining(['tab message received', 'refreshing for another tab', 'refresh started', 'refresh done']))
    expect(a.log.find('tab message received').map((line) => line.details!.type)).toContain('refresh-request')
    expect(b.log.find('tab message sent').map((line) => line.details!.type)).toContain('refresh-request')
    for (const line of [...a.log.kept, ...b.log.kept]) expect(Object.keys(line.details ?? {})).not.toContain('record')
  })

  it('a leader that does not answer: the follower says how long it waited, takes the lead and refreshes itself', async () => {
    // A frozen tab: it holds the leader lock and never answers.
    locks().request(`${channelName()}:leader`, () => new Promise(() => {})).catch(() => 'stolen, as expected')
    const [a] = await openTabs(1)
    const b = tab()
    await b.auth.ready
    await a!.login(ADA)
    await vi.waitFor(() => expect(b.auth.getSession()).not.toBeNull())
    await b.auth.refresh()
    const sid = b.log.find('refresh started')[0]!.details!.sid
    expect(
      inOrder(b.log.messages(), [
        'refresh: asking the leader tab to refresh',
        'refresh: the leader tab did not answer',
        'taking the lead from a leader tab that does not answer (frozen or hung)',
        'this tab leads now: it alone sends refresh tokens, for every tab',
        'refresh: this tab just took the lead; waiting for the last news of the tab before it',
        'refresh started',
        'refresh done',
      ]),
    ).toBe(true)
    expect(b.log.find('refresh: the leader tab did not answer')[0]!.details).toEqual({ sid, rotation: 0, waitedMs: 300 })
  })

  it('a starting tab asks the others; a malformed message is ignored and said to be', async () => {
    const [a] = await openTabs(1)
    await a!.login(ADA)
    const late = tab({ tabSyncTimeoutMs: 1_000 }) // ready ends at the answer; the bound only covers a stalled machine
    await late.auth.ready
    expect(late.log.messages()).toEqual(
      expect.arrayContaining(['restore: no session in storage', 'asking the other tabs for their state', 'the other tabs answered with news, taken', 'restore: done, with the session of another tab or of the server']),
    )
    const junk = new BroadcastChannel(channelName())
    junk.postMessage({ type: 'session', from: 'x', gen: 1, cause: 'login', record: { accessToken: 42 } })
    await vi.waitFor(() => expect(late.log.messages()).toContain('tab message ignored: malformed, or out of range'))
    junk.close()
  })
})

describe('debug log: helpers', () => {
  it('transitionForLog tells a change by its events, session id, rotation and why it ended, never by a payload', () => {
    const machine = createSessionMachine<unknown>('tab-1', () => 1_000)
    const tokens = { accessToken: 'opaque-access-token-1234', refreshToken: 'opaque-refresh-token-5678', expiresInSec: 60 }
    const login = machine.apply(createSessionState('login', tokens, 1_000), { kind: 'login' })
    const sid = login.to!.sid
    expect(transitionForLog(login)).toEqual(['session: login + change', { sid, rotation: 0 }])
    const logout = machine.apply(undefined, { kind: 'logout', here: true })
    expect(transitionForLog(logout)).toEqual(['session: logout + change', { sid, reason: 'user' }])
    machine.apply(createSessionState('login', tokens, 1_000), { kind: 'login' })
    const expired = machine.apply(undefined, { kind: 'expire', here: true, reason: 'idle', error: new AuthError('session_expired', 'session: ended by idleTimeoutMs') })
    expect(transitionForLog(expired)).toEqual(['session: session-expired + change', { sid: expired.from!.sid, reason: 'idle', code: 'session_expired' }])
    expect(JSON.stringify([login, logout, expired].map(transitionForLog))).not.toMatch(/opaque/)
  })

  it('urlForLog keeps the origin and path of a URL, never its query, fragment or user info', () => {
    expect(urlForLog('https://ada:pw@api.example.com/orders/7?token=abc#code=xyz')).toBe('https://api.example.com/orders/7')
    expect(urlForLog('not a url')).toBe('(not a URL)')
  })
})
