import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { memoryStorage, type AuthClient, type TokenStorage } from '../../src/index.js'
import { ADA, API, BASE_URL, MINUTE, SECOND, START, useProbe } from './support.js'

// An outsider's round against the session policies: odd orders and hostile inputs. What held up is
// kept here as tests (each failure found has a file of its own in this folder).
const { server, mock, client, openTab, elapse, settle, events, familyOf, live, act, requests, refreshes, storageKey, channelName } =
  useProbe('probe-attack')

/** The first login's refresh-token family at the server is over: revoked or rotated, none current. */
const over = (family: number) => live(family).length === 0

describe('odd orders', () => {
  it('logout() during the warning: no end, no event, no timer afterwards', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    const expired = events(auth, 'session-expired')
    const warnings = events(auth, 'session-warning')
    await auth.login(ADA)
    await elapse(9 * MINUTE + 2 * SECOND, 10 * SECOND)
    expect(warnings).toHaveLength(1)
    await auth.logout()
    await settle()
    expect(vi.getTimerCount()).toBe(0)
    await elapse(5 * MINUTE, 10 * SECOND)
    expect(expired).toEqual([])
    expect(over(1)).toBe(true)
  })

  it('a session-expired listener that logs in again: the new session lives its own idle time, the old one is revoked', async () => {
    const auth = client({ idleTimeoutMs: 5 * MINUTE })
    const expired = events(auth, 'session-expired')
    let again: Promise<unknown> | undefined
    auth.on('session-expired', () => void (again ??= auth.login(ADA)))
    await auth.login(ADA)
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    await again
    await settle()
    expect(expired).toHaveLength(1)
    expect(familyOf(auth.getSession()?.accessToken)).toBe(2)
    expect(over(1)).toBe(true)
    await elapse(5 * MINUTE - 5 * SECOND, SECOND)
    expect(auth.getSession()).not.toBeNull()
    expect(expired).toHaveLength(1)
    await elapse(10 * SECOND, SECOND)
    expect(expired).toHaveLength(2)
  })

  it('across tabs: a tab whose session-expired listener logs in again is not ended by the other tab', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE })
    let again: Promise<unknown> | undefined
    b.on('session-expired', () => void (again ??= b.login(ADA)))
    await a.login(ADA)
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    await again
    await elapse(SECOND)
    expect(familyOf(a.getSession()?.accessToken)).toBe(2)
    expect(familyOf(b.getSession()?.accessToken)).toBe(2)
    await elapse(4 * MINUTE, 10 * SECOND)
    expect(a.getSession()).not.toBeNull()
    expect(b.getSession()).not.toBeNull()
  })

  it('a session-warning listener that logs in again: the new session replaces the old, which is revoked', async () => {
    const auth = client({ idleTimeoutMs: 5 * MINUTE })
    let again: Promise<unknown> | undefined
    auth.on('session-warning', () => void (again ??= auth.login(ADA)))
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(4 * MINUTE + 2 * SECOND, SECOND)
    await again
    await settle()
    expect(familyOf(auth.getSession()?.accessToken)).toBe(2)
    expect(over(1)).toBe(true)
    await elapse(2 * MINUTE, SECOND)
    expect(expired).toEqual([])
  })

  it('two logins at once: the policy follows the second, the first is revoked', async () => {
    const auth = client({ idleTimeoutMs: 5 * MINUTE })
    const expired = events(auth, 'session-expired')
    const [first, second] = await Promise.allSettled([auth.login(ADA), auth.login(ADA)])
    expect(first.status).toBe('rejected')
    expect(second.status).toBe('fulfilled')
    await settle()
    // The server may read the two bodies in either order, so family 1 is not always the first login's.
    const held = familyOf(auth.getSession()?.accessToken)!
    expect(over(3 - held)).toBe(true)
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    expect(over(held)).toBe(true)
  })

  it('a login while an idle end is due (slept past it, nothing ran): the old session is revoked, the new one lives', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await a.login(ADA)
    await elapse(SECOND)
    vi.setSystemTime(Date.now() + 20 * MINUTE)
    await b.login(ADA)
    await elapse(SECOND)
    expect(familyOf(a.getSession()?.accessToken)).toBe(2)
    expect(familyOf(b.getSession()?.accessToken)).toBe(2)
    expect(over(1)).toBe(true)
    await elapse(4 * MINUTE, 10 * SECOND)
    expect(a.getSession()).not.toBeNull()
  })

  it('destroy() during the warning leaves no timer', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE, maxSessionMs: 60 * MINUTE })
    await auth.login(ADA)
    await elapse(9 * MINUTE + 2 * SECOND, 10 * SECOND)
    auth.destroy()
    await settle()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('extendSession() while logged out, or with maxSessionMs only, starts nothing', async () => {
    const auth = client({ maxSessionMs: 10 * MINUTE })
    auth.extendSession()
    expect(vi.getTimerCount()).toBe(0)
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(9 * MINUTE, 10 * SECOND)
    auth.extendSession()
    act()
    await elapse(MINUTE + SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('across tabs', () => {
  it('both tabs warned, activity in one (a document event): told at once, both extended, both alive', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await a.login(ADA)
    const warned = [events(a, 'session-warning'), events(b, 'session-warning')]
    const extended = [events(a, 'session-extended'), events(b, 'session-extended')]
    await elapse(4 * MINUTE + 2 * SECOND, SECOND)
    expect(warned.map((list) => list.length)).toEqual([1, 1])
    act('keydown')
    await settle()
    expect(extended.map((list) => list.map((event) => event.expiresAt))).toEqual([[Date.now() + 5 * MINUTE], [Date.now() + 5 * MINUTE]])
    await elapse(4 * MINUTE, 10 * SECOND)
    expect(a.getSession()).not.toBeNull()
    expect(b.getSession()).not.toBeNull()
  })

  it('after a policy end, no timer is left in any tab', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE, maxSessionMs: 60 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE, maxSessionMs: 60 * MINUTE })
    await a.login(ADA)
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    expect(b.getSession()).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a record restored past its max age (another tab of the same storage): ended at once with reason max-age, revoked, no refresh', async () => {
    const storage = memoryStorage()
    const first = client({ storage, maxSessionMs: 30 * MINUTE })
    await first.login(ADA)
    first.destroy()
    vi.setSystemTime(Date.now() + 31 * MINUTE)
    const later = client({ storage, maxSessionMs: 30 * MINUTE })
    const expired = events(later, 'session-expired')
    expect(await later.ready).toBeNull()
    await settle()
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
    expect(over(1)).toBe(true)
    expect(refreshes()).toEqual([])
  })
})

describe('a refresh in flight at the moment of the end', () => {
  /** Holds refresh answers until released (settle() would wait for them: turns instead). */
  function holdRefreshes() {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    server.use(http.post(`${BASE_URL}/auth/refresh`, async () => void (await held)))
    return release
  }
  const turns = async (count = 50) => {
    for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve))
  }

  it('one tab: its late tokens are revoked and never come back', async () => {
    const storage = memoryStorage()
    const auth = client({ idleTimeoutMs: 10 * MINUTE, storage })
    const changes = events(auth, 'change')
    await auth.login(ADA)
    await elapse(10 * MINUTE, 10 * SECOND)
    const release = holdRefreshes()
    const refreshing = auth.refresh().catch((error: unknown) => error)
    await turns()
    await vi.advanceTimersByTimeAsync(2 * SECOND) // the end, while the refresh is out
    expect(auth.getSession()).toBeNull()
    release()
    expect(await refreshing).toMatchObject({ code: 'no_session' })
    await settle()
    expect(auth.getSession()).toBeNull()
    expect(changes.at(-1)).toBeNull()
    expect(storage.getItem(storageKey())).toBeNull()
    expect(mock().issued().filter((tokens) => tokens.status === 'current')).toEqual([])
    // The late answer was issued (after the end), and revoked.
    expect(mock().issued().at(-1)).toMatchObject({ grant: 'refresh', status: 'revoked' })
  })

  it('the leader refreshing for a follower when the session ends: no tab holds the late tokens, all revoked', async () => {
    const storage = memoryStorage()
    const a = await openTab({ idleTimeoutMs: 10 * MINUTE, storage })
    const b = await openTab({ idleTimeoutMs: 10 * MINUTE, storage })
    await a.login(ADA)
    await elapse(10 * MINUTE - 2 * SECOND, 10 * SECOND)
    const release = holdRefreshes()
    const refreshing = b.refresh().catch((error: unknown) => error)
    await turns(200)
    await vi.advanceTimersByTimeAsync(4 * SECOND)
    await turns(200)
    expect(a.getSession()).toBeNull()
    expect(b.getSession()).toBeNull()
    release()
    await refreshing
    await settle()
    await elapse(SECOND)
    expect(a.getSession()).toBeNull()
    expect(b.getSession()).toBeNull()
    expect(storage.getItem(storageKey())).toBeNull()
    expect(mock().issued().filter((tokens) => tokens.status === 'current')).toEqual([])
    // The late answer was issued (after the end), and revoked.
    expect(mock().issued().at(-1)).toMatchObject({ grant: 'refresh', status: 'revoked' })
  })
})

describe('a laptop that slept past the limit', () => {
  it('a follower tab asks for a token after the wake: null (once the other tabs had a second to answer), no refresh, every tab ends, revoked', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await a.login(ADA)
    await elapse(SECOND)
    vi.setSystemTime(Date.now() + 30 * MINUTE)
    const token = b.getAccessToken()
    await elapse(2 * SECOND)
    expect(await token).toBeNull()
    await settle()
    expect(a.getSession()).toBeNull()
    expect(refreshes()).toEqual([])
    expect(over(1)).toBe(true)
  })

  it('max-age: auth.fetch after the wake sends no token and no refresh', async () => {
    const auth = client({ maxSessionMs: 30 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    vi.setSystemTime(Date.now() + 31 * MINUTE)
    await auth.fetch(API)
    expect(requests().map((request) => request.token)).toEqual([null])
    expect(refreshes()).toEqual([])
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
  })
})

describe('odd option values', () => {
  it.each([
    ['idleTimeoutMs', 1e300],
    ['idleTimeoutMs', Number.MAX_VALUE],
    ['idleTimeoutMs', 2 ** 31],
    ['maxSessionMs', 1e300],
    ['maxSessionMs', 2 ** 53],
  ])('%s: %s keeps the session, with a capped timer and no loop', async (name, value) => {
    const auth = client({ [name]: value, sessionWarningMs: 1e300 })
    const expired = events(auth, 'session-expired')
    const warnings = events(auth, 'session-warning')
    await auth.login(ADA)
    await elapse(60 * MINUTE, MINUTE)
    expect(auth.getSession()).not.toBeNull()
    expect(expired).toEqual([])
    expect(warnings).toEqual([])
    expect(vi.getTimerCount()).toBeLessThanOrEqual(2)
  })

  it('idleTimeoutMs: 1 ms ends the session a grace second after the login, and once', async () => {
    const auth = client({ idleTimeoutMs: 1 })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(900, 100)
    expect(auth.getSession()).not.toBeNull()
    await elapse(200, 100)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    await elapse(5 * SECOND)
    expect(expired).toHaveLength(1)
    expect(over(1)).toBe(true)
  })

  it('maxSessionMs: 1 ms ends the session right after the login, which still resolves', async () => {
    const auth = client({ maxSessionMs: 1 })
    const expired = events(auth, 'session-expired')
    await expect(auth.login(ADA)).resolves.toBeTruthy()
    await elapse(10, 1)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
    expect(auth.getSession()).toBeNull()
  })

  it('sessionWarningMs: 0 never warns; the end still comes', async () => {
    const auth = client({ idleTimeoutMs: MINUTE, sessionWarningMs: 0 })
    const warnings = events(auth, 'session-warning')
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(MINUTE + 2 * SECOND, SECOND)
    expect(warnings).toEqual([])
    expect(expired).toHaveLength(1)
  })
})

describe('hostile inputs', () => {
  it('a storage that never answers: activity is still shared, the session lives, errors are reported', async () => {
    const hung: TokenStorage = { getItem: () => new Promise(() => {}), setItem: () => new Promise(() => {}), removeItem: () => new Promise(() => {}) }
    const options = { idleTimeoutMs: 2 * MINUTE, storage: hung, storageTimeoutMs: 500 }
    const a = await openTab(options)
    const b = await openTab(options)
    const errors = events(a, 'error')
    await a.login(ADA)
    await elapse(SECOND)
    const expired = events(b, 'session-expired')
    for (let i = 0; i < 10; i++) {
      await elapse(30 * SECOND, 500)
      a.extendSession()
    }
    expect(expired).toEqual([])
    expect(b.getSession()).not.toBeNull()
    expect(errors.every((error) => error.code === 'storage')).toBe(true)
    await elapse(2 * MINUTE + 2 * SECOND, 500)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })

  /** A tab's session id, read from its own answer to a hello. */
  async function sidOf(channel: BroadcastChannel): Promise<string> {
    return new Promise<string>((resolve) => {
      channel.onmessage = (event: MessageEvent) => (event.data as { record?: { sid?: string } }).record?.sid && resolve((event.data as { record: { sid: string } }).record.sid)
      channel.postMessage({ type: 'hello', from: 'forger', gen: 1 })
    })
  }

  it.each([
    ['another session', (sid: string) => ({ sid: `${sid}x`, at: Date.now() })],
    ['a negative time', (sid: string) => ({ sid, at: -1 })],
    ['a fractional time', (sid: string) => ({ sid, at: Date.now() + 0.5 })],
    ['a string time', (sid: string) => ({ sid, at: String(Date.now()) })],
    ['a time past the safe integers', (sid: string) => ({ sid, at: 2 ** 60 })],
  ])("a forged 'activity' message for %s keeps nothing alive", async (_, forged) => {
    const tab = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await tab.login(ADA)
    const expired = events(tab, 'session-expired')
    const channel = new BroadcastChannel(channelName())
    const sid = await sidOf(channel)
    await elapse(4 * MINUTE, 10 * SECOND)
    channel.postMessage({ type: 'activity', from: 'forger', gen: 1, ...forged(sid) })
    await elapse(MINUTE + 2 * SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    channel.close()
  })

  it("a forged 'expired' message with a bogus reason ends nothing", async () => {
    const tab = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await tab.login(ADA)
    const channel = new BroadcastChannel(channelName())
    const sid = await sidOf(channel)
    channel.postMessage({ type: 'expired', from: 'forger', gen: 1, sid, reason: 'bogus' })
    await elapse(SECOND)
    expect(tab.getSession()).not.toBeNull()
    channel.close()
  })

  /** A record stored by a client (logged in `minutes` ago, no activity since), with `active` replaced. */
  async function storedWith(active: unknown, minutes = 1): Promise<TokenStorage> {
    const storage = memoryStorage()
    const first = client({ storage })
    await first.login(ADA)
    await elapse(minutes * MINUTE, 10 * SECOND)
    first.destroy()
    const record = JSON.parse(storage.getItem(storageKey()) as string) as Record<string, unknown>
    storage.setItem(storageKey(), JSON.stringify(active === undefined ? record : { ...record, active }))
    return storage
  }

  it('a restored record whose `active` is in the future: the idle end is counted from now at the latest', async () => {
    const storage = await storedWith(Date.now() + 365 * 24 * 60 * MINUTE)
    const auth = client({ storage, idleTimeoutMs: 5 * MINUTE })
    const expired = events(auth, 'session-expired')
    expect(await auth.ready).not.toBeNull()
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })

  it.each([
    ['negative', -5],
    ['past the safe integers', 2 ** 60],
    ['a string', String(START)],
    ['fractional', START + 0.5],
  ])('a restored record whose `active` is %s is malformed: logged out, removed', async (_, active) => {
    const storage = await storedWith(active)
    const auth = client({ storage, idleTimeoutMs: 5 * MINUTE })
    expect(await auth.ready).toBeNull()
    expect(storage.getItem(storageKey())).toBeNull()
  })

  it('a restored record without `active` (an older version): the idle end counts from its last change', async () => {
    // Logged in at START by a client without the policy, refreshed at 4 min (its last change).
    const storage = await storedWith(undefined, 5)
    expect(JSON.parse(storage.getItem(storageKey()) as string)).not.toHaveProperty('active')
    const auth = client({ storage, idleTimeoutMs: 5 * MINUTE })
    const expired = events(auth, 'session-expired')
    expect(await auth.ready).not.toBeNull()
    await elapse(4 * MINUTE - SECOND, SECOND) // 9 min - 1 s after the login
    expect(expired).toEqual([])
    await elapse(3 * SECOND, SECOND) // 5 min + 1 s after the refresh
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })

  it('a restored record after the idle limit, in another tab of the same storage: ended at once, revoked', async () => {
    const storage = memoryStorage()
    const first = client({ storage, idleTimeoutMs: 5 * MINUTE })
    await first.login(ADA)
    first.destroy()
    vi.setSystemTime(Date.now() + 6 * MINUTE)
    const later = await openTab({ storage, idleTimeoutMs: 5 * MINUTE })
    expect(later.getSession()).toBeNull()
    await settle()
    expect(over(1)).toBe(true)
    expect(refreshes()).toEqual([])
  })
})

describe('other setups', () => {
  it('crossTab: false, each tab its own storage and login: one tab ending for idleness leaves the other, active, alive', async () => {
    const a = client({ idleTimeoutMs: 2 * MINUTE, storage: memoryStorage() })
    const b = client({ idleTimeoutMs: 2 * MINUTE, storage: memoryStorage() })
    await a.login(ADA)
    await b.login(ADA)
    const expiredA = events(a, 'session-expired')
    const expiredB = events(b, 'session-expired')
    for (let i = 0; i < 6; i++) {
      await elapse(30 * SECOND, 5 * SECOND)
      a.extendSession()
    }
    expect(expiredA).toEqual([])
    expect(expiredB.map((event) => event.reason)).toEqual(['idle'])
    expect(live(1)).toHaveLength(1)
    expect(over(2)).toBe(true)
  })

  it('refreshTokenInCookie: the idle end revokes the cookie session, so a reload does not resume it', async () => {
    let cookie = false
    server.use(
      http.post(`${BASE_URL}/auth/login`, async () => ((cookie = true), HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), expiresIn: 300 }))),
      http.post(`${BASE_URL}/auth/refresh`, async () =>
        cookie ? HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), expiresIn: 300 }) : HttpResponse.json({ error: 'invalid_grant' }, { status: 401 }),
      ),
      http.post(`${BASE_URL}/auth/logout`, () => ((cookie = false), new HttpResponse(null, { status: 204 }))),
    )
    const first = client({ refreshTokenInCookie: true, idleTimeoutMs: 5 * MINUTE })
    const expired = events(first, 'session-expired')
    await first.ready
    await first.login(ADA)
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    expect(cookie).toBe(false)
    const reloaded: AuthClient = client({ refreshTokenInCookie: true, idleTimeoutMs: 5 * MINUTE })
    expect(await reloaded.ready).toBeNull()
  })
})
