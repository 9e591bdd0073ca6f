import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { AuthError, memoryStorage } from '../src/index.js'
import { BASE_URL, record, useMockAuthServer, useTabs } from './helpers.js'

const { server, mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }
const API = `${BASE_URL}/api/me`

const { openTab, openTabs, storageKey, channelName, locks } = useTabs('cross-tab')

describe('cross-tab: one session everywhere', () => {
  it('a login in one tab reaches the others, which emit login and change', async () => {
    const [a, b] = await openTabs(2)
    const events: string[] = []
    b!.on('login', () => events.push('login'))
    b!.on('change', () => events.push('change'))
    const session = await a!.login(ADA)
    await vi.waitFor(() => expect(b!.getSession()?.accessToken).toBe(session.accessToken))
    expect(events).toEqual(['login', 'change'])
    expect((await b!.fetch(API)).status).toBe(200)
  })

  it('clients of two different auth servers on one origin, same storage key, never hear each other', async () => {
    const [a, b] = await Promise.all([openTab(), openTab({ baseUrl: 'https://other.example.com' })].map(async (tab) => (await tab.ready, tab)))
    const changes = record((listener) => b!.on('change', listener))
    await a!.login(ADA)
    await a!.refresh()
    await a!.logout()
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(changes).toEqual([])
    expect(mock().counts.refresh).toBe(1)
  })

  it('a refresh in one tab reaches the others as a refresh event', async () => {
    const [a, b] = await openTabs(2)
    await a!.login(ADA)
    await vi.waitFor(() => expect(b!.getSession()).not.toBeNull())
    const refreshed = record((listener) => b!.on('refresh', listener))
    const session = await a!.refresh()
    await vi.waitFor(() => expect(refreshed).toEqual([session]))
    expect(mock().counts.refresh).toBe(1)
  })

  it('a logout in one tab logs out every tab, and none of them sends the token afterwards', async () => {
    const opened = await openTabs(4)
    const session = await opened[0]!.login(ADA)
    await vi.waitFor(() => opened.forEach((tab) => expect(tab.getSession()).not.toBeNull()))
    const logouts = opened.slice(1).map((tab) => record((listener) => tab.on('logout', listener)))
    await opened[2]!.logout()
    await vi.waitFor(() => opened.forEach((tab) => expect(tab.getSession()).toBeNull()))
    expect(logouts).toEqual([[{ reason: 'other-tab' }], [{ reason: 'user' }], [{ reason: 'other-tab' }]])
    const sent: (string | null)[] = []
    server.use(
      http.get(API, ({ request }) => {
        sent.push(request.headers.get('authorization'))
        return HttpResponse.json({})
      }),
    )
    await Promise.all(opened.map((tab) => tab.fetch(API)))
    expect(sent).toEqual([null, null, null, null])
    expect(sent.join()).not.toContain(session.accessToken)
  })

  it('a tab opened after login, with memory storage, is logged in without a request to the server', async () => {
    const [a] = await openTabs(1)
    const session = await a!.login(ADA)
    const requests = { ...mock().counts }
    const late = openTab({ tabSyncTimeoutMs: 1_000 }) // ready ends at the answer; the bound only covers a stalled machine
    const changes = record((listener) => late.on('change', listener))
    expect(await late.ready).toEqual(session)
    expect(changes).toEqual([session])
    expect(mock().counts).toEqual(requests)
  })

  it('4 tabs on an expiring token: exactly one refresh request, and no tab is logged out', async () => {
    const opened = await openTabs(4)
    await opened[0]!.login(ADA)
    await vi.waitFor(() => opened.forEach((tab) => expect(tab.getSession()).not.toBeNull()))
    const expired = opened.map((tab) => record((listener) => tab.on('session-expired', listener)))
    // Every tab decides at once that it needs a fresh token.
    const sessions = await Promise.all(opened.map((tab) => tab.refresh()))
    expect(mock().counts.refresh).toBe(1)
    expect(new Set(sessions.map((s) => s.accessToken)).size).toBe(1)
    expect(expired.flat()).toEqual([])
  })

  it('20 rotations in a row with 4 tabs: zero reuse detections', async () => {
    const opened = await openTabs(4)
    await opened[0]!.login(ADA)
    await vi.waitFor(() => opened.forEach((tab) => expect(tab.getSession()).not.toBeNull()))
    for (let round = 0; round < 20; round++) {
      await Promise.all(opened.map((tab) => tab.refresh()))
      const tokens = new Set(opened.map((tab) => tab.getSession()?.accessToken))
      await vi.waitFor(() => expect(new Set(opened.map((tab) => tab.getSession()?.accessToken)).size).toBe(1))
      expect(tokens.has(undefined)).toBe(false)
    }
    expect(mock().counts.reuseDetected).toBe(0)
    expect(mock().counts.refresh).toBe(20)
    for (const tab of opened) expect((await tab.fetch(API)).status).toBe(200)
  })

  it.each([
    ['Web Locks', { locks: null }],
    ['BroadcastChannel', {}],
  ])('without %s, tabs neither talk nor wait for each other: each keeps its own session', async (missing, options) => {
    if (missing === 'BroadcastChannel') vi.stubGlobal('BroadcastChannel', undefined)
    try {
      const [a, b] = await openTabs(2, options)
      await a!.login(ADA)
      await a!.refresh()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(b!.getSession()).toBeNull()
      expect(a!.getSession()).not.toBeNull()
      expect(mock().counts.refresh).toBe(1)
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('a leader destroyed while its refresh is in flight tells the others the result: no tab sends the spent token', async () => {
    const [a, b] = await openTabs(2)
    await a!.login(ADA)
    await vi.waitFor(() => expect(b!.getSession()).not.toBeNull())
    let release: (() => void) | undefined
    const sent: unknown[] = []
    const late = await mock().issueAccessToken('ada')
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async ({ request }) => {
        sent.push(await request.json())
        if (sent.length === 1) await new Promise<void>((resolve) => (release = resolve))
        return HttpResponse.json({ accessToken: sent.length === 1 ? late : await mock().issueAccessToken('ada'), refreshToken: `rt-${sent.length}`, expiresIn: 300 })
      }),
    )
    const leading = a!.refresh().catch(() => 'destroyed')
    await vi.waitFor(() => expect(release).toBeDefined())
    const following = b!.refresh()
    await new Promise((resolve) => setTimeout(resolve, 20)) // b has asked a, and a has answered
    a!.destroy()
    release!()
    expect((await following).accessToken).toBe(late)
    expect(await leading).toBe('destroyed')
    await b!.refresh()
    expect(sent).toHaveLength(2)
    expect(sent[1]).toEqual({ refreshToken: 'rt-1' })
  })

  it('in a sandboxed frame, where Web Locks refuse with SecurityError, the tab asks once, acts alone, and never hangs', async () => {
    const refused = () => Promise.reject(new DOMException('Access to the Locks API is denied in this context.', 'SecurityError'))
    const sandboxed = { request: vi.fn(refused), query: vi.fn(refused) } as unknown as LockManager
    const tab = openTab({ locks: sandboxed, refreshTokenInCookie: true, lockTimeoutMs: 5_000 })
    await tab.ready // the cookie resume runs without its lock instead of rejecting
    await tab.login(ADA)
    const started = Date.now()
    await tab.refresh()
    expect(Date.now() - started).toBeLessThan(1_000) // no wait for a leader that cannot exist
    expect(mock().counts.refresh).toBe(2) // the resume at start, and this one
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(vi.mocked(sandboxed.request).mock.calls.length).toBeLessThanOrEqual(3) // leader, resume: no retry loop
  })

  it('a leader that holds the lock and never answers stalls the others no longer than lockTimeoutMs', async () => {
    // A frozen tab: it holds the leader lock and will never answer a message.
    locks().request(`${channelName()}:leader`, () => new Promise(() => {})).catch(() => 'stolen, as expected')
    const opened = await openTabs(2)
    await opened[0]!.login(ADA)
    await vi.waitFor(() => expect(opened[1]!.getSession()).not.toBeNull())
    const started = Date.now()
    await opened[1]!.refresh()
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(290)
    expect(waited).toBeLessThan(300 + 1_000)
    expect(mock().counts.refresh).toBe(1)
    await vi.waitFor(() => expect(opened[0]!.getSession()).toEqual(opened[1]!.getSession()))
  })

  it('a refresh answered invalid_grant adopts the newer rotation of the same session another tab holds, instead of logging out', async () => {
    const [a] = await openTabs(1)
    await a!.login(ADA)
    const newer = await mock().issueAccessToken('ada')
    // Another tab that rotated already; this one never heard of it until it asks.
    const other = new BroadcastChannel(channelName())
    let held: { sid: string; rotation: number; gen: number } | undefined
    other.onmessage = (event) => {
      if (event.data.type === 'session') held ??= event.data.record
      if (event.data.type !== 'hello' || !held) return
      other.postMessage({
        type: 'session',
        from: 'zz-other-tab',
        gen: held.gen + 5,
        cause: 'sync',
        record: { v: 1, accessToken: newer, refreshToken: 'rt-newer', expiresAt: Date.now() + 300_000, receivedAt: Date.now(), sid: held.sid, rotation: held.rotation + 1, gen: held.gen + 5, tab: 'zz-other-tab' },
      })
    }
    other.postMessage({ type: 'hello', from: 'zz-other-tab', gen: 0 })
    await vi.waitFor(() => expect(held).toBeDefined())
    const expired = record((listener) => a!.on('session-expired', listener))
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    const session = await a!.refresh()
    other.close()
    expect(session.accessToken).toBe(newer)
    expect(a!.getSession()?.accessToken).toBe(newer)
    expect(expired).toEqual([])
  })

  it('a refresh refused for good in the leader tab expires the session in every tab', async () => {
    const opened = await openTabs(3)
    await opened[0]!.login(ADA)
    await vi.waitFor(() => opened.forEach((tab) => expect(tab.getSession()).not.toBeNull()))
    const expired = opened.map((tab) => record<{ error: AuthError }>((listener) => tab.on('session-expired', listener)))
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    const results = await Promise.allSettled(opened.map((tab) => tab.refresh()))
    expect(results.every((result) => result.status === 'rejected')).toBe(true)
    await vi.waitFor(() => expect(expired.map((events) => events.length)).toEqual([1, 1, 1]))
    expect(expired.flat().map((event) => event.error.code)).toEqual(['session_expired', 'session_expired', 'session_expired'])
    expect(mock().counts.refresh).toBe(1)
  })

  it('ignores malformed messages on the channel', async () => {
    const [a] = await openTabs(1)
    const session = await a!.login(ADA)
    const changes = record((listener) => a!.on('change', listener))
    const intruder = new BroadcastChannel(channelName())
    for (const junk of [
      null,
      'logout',
      { type: 'logout' },
      { type: 'logout', from: 'x', gen: -1 },
      { type: 'logout', from: 'x', gen: 1.5 },
      { type: 'session', from: 'x', gen: 1e9, cause: 'login', record: { v: 1, accessToken: 42 } },
      { type: 'session', from: 'x', gen: 1e9, cause: 'login' },
      { type: 'session', from: 'x', gen: 1e9, cause: 'hack', record: { v: 1, accessToken: 'a', expiresAt: 2, receivedAt: 1 } },
      { type: 'failed', from: 'x', gen: 1, code: 'stolen' },
      { type: 'evil', from: 'x', gen: 1e9 },
    ]) {
      intruder.postMessage(junk)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    intruder.close()
    expect(changes).toEqual([])
    expect(a!.getSession()).toBe(session)
  })

  it('a login in a tab opened while the others were logged out reaches them, and survives the first refresh in every tab', async () => {
    // The demo's sequence: log in, log out, open a second tab, log in there.
    const [a] = await openTabs(1)
    await a!.login(ADA)
    await a!.logout()
    const [b] = await openTabs(1)
    const logins = record((listener) => a!.on('login', listener))
    const session = await b!.login(ADA)
    await vi.waitFor(() => expect(a!.getSession()?.accessToken).toBe(session.accessToken))
    expect(logins).toEqual([a!.getSession()])
    const outs = [a!, b!].map((tab) => record((listener) => tab.on('logout', listener)))
    await b!.refresh()
    await a!.refresh()
    await vi.waitFor(() => expect(a!.getSession()).toEqual(b!.getSession()))
    expect(b!.getSession()).not.toBeNull()
    expect(outs.flat()).toEqual([])
    expect(mock().counts.reuseDetected).toBe(0)
  })

  it('a logout names the session it ends: a late logout of an earlier session never ends a later one', async () => {
    const [a, b] = await openTabs(2)
    await a!.login(ADA)
    await vi.waitFor(() => expect(b!.getSession()).not.toBeNull())
    const intruder = new BroadcastChannel(channelName())
    const answers: { record?: { sid: string } }[] = []
    intruder.onmessage = (event) => answers.push(event.data)
    intruder.postMessage({ type: 'hello', from: 'zz', gen: 0 })
    await vi.waitFor(() => expect(answers.some((answer) => answer.record)).toBe(true))
    const ended = answers.find((answer) => answer.record)!.record!.sid
    const later = await b!.login(ADA)
    await vi.waitFor(() => expect(a!.getSession()?.accessToken).toBe(later.accessToken))
    intruder.postMessage({ type: 'logout', from: 'zz', gen: 1_000, sid: ended })
    await new Promise((resolve) => setTimeout(resolve, 50))
    intruder.close()
    expect(a!.getSession()?.accessToken).toBe(later.accessToken)
    expect(b!.getSession()?.accessToken).toBe(later.accessToken)
  })

  it('a generation at MAX_SAFE_INTEGER in one channel message is refused, and the tabs go on ordering their own changes', async () => {
    const [a, b] = await openTabs(2)
    const session = await a!.login(ADA)
    await vi.waitFor(() => expect(b!.getSession()).not.toBeNull())
    const intruder = new BroadcastChannel(channelName())
    const gen = Number.MAX_SAFE_INTEGER
    const forged = await mock().issueAccessToken('mallory')
    intruder.postMessage({
      type: 'session',
      from: 'zz',
      gen,
      cause: 'login',
      record: { v: 1, accessToken: forged, refreshToken: 'rt-forged', expiresAt: Date.now() + 300_000, receivedAt: Date.now(), sid: 'forged', rotation: 0, gen, tab: 'zz' },
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    intruder.close()
    expect(a!.getSession()).toBe(session)
    expect(b!.getSession()?.accessToken).toBe(session.accessToken)
    // A refresh then a logout still reach the other tab, in order.
    const refreshed = await b!.refresh()
    await vi.waitFor(() => expect(a!.getSession()?.accessToken).toBe(refreshed.accessToken))
    await a!.logout()
    await vi.waitFor(() => expect(b!.getSession()).toBeNull())
  })

  it('a stored session whose generation is out of range counts as corrupt: removed, reported, logged out', async () => {
    const storage = memoryStorage()
    const gen = Number.MAX_SAFE_INTEGER
    storage.setItem(storageKey(), JSON.stringify({ v: 1, accessToken: 'opaque', refreshToken: 'rt', expiresAt: Date.now() + 300_000, receivedAt: Date.now(), sid: 's', rotation: 0, gen, tab: 't' }))
    const tab = openTab({ storage })
    const errors = record<AuthError>((listener) => tab.on('error', listener))
    expect(await tab.ready).toBeNull()
    expect(errors.map((error) => error.code)).toEqual(['storage'])
    await vi.waitFor(() => expect(storage.getItem(storageKey())).toBeNull())
  })

  it('a follower destroyed while the leader refreshes for it never steals the lock or sends the spent refresh token: the other tabs stay logged in', async () => {
    const [a, b, c] = await openTabs(3, { requestTimeoutMs: 400 })
    await a!.login(ADA)
    await vi.waitFor(() => [b, c].forEach((tab) => expect(tab!.getSession()).not.toBeNull()))
    let release: (() => void) | undefined
    server.use(
      http.post(`${BASE_URL}/auth/refresh`, async () => {
        // Then falls through to the mock server's own handler.
        await new Promise<void>((resolve) => (release = resolve))
      }, { once: true }),
    )
    const pending = b!.refresh().catch((error: AuthError) => error.code)
    await vi.waitFor(() => expect(release).toBeDefined()) // the leader is refreshing for b
    b!.destroy() // a React unmount while a fetch waits for a token
    release!()
    await new Promise((resolve) => setTimeout(resolve, 1_000)) // past requestTimeoutMs + lockTimeoutMs
    expect(await pending).toBe('destroyed')
    expect(mock().counts.refresh).toBe(1)
    expect(mock().counts.reuseDetected).toBe(0)
    expect(a!.getSession()).not.toBeNull()
    expect(c!.getSession()?.accessToken).toBe(a!.getSession()?.accessToken)
    expect((await c!.fetch(API)).status).toBe(200)
  })

  it('one forged hello at the largest generation allowed cuts off neither a tab opened later nor a reload from shared storage', async () => {
    const storage = memoryStorage() // stands for localStorage, shared by the page's clients
    const [a] = await openTabs(1, { storage })
    const intruder = new BroadcastChannel(channelName())
    intruder.postMessage({ type: 'hello', from: 'zz', gen: Date.now() + 2 ** 32 })
    await new Promise((resolve) => setTimeout(resolve, 30))
    intruder.close()
    const session = await a!.login(ADA)
    expect((await openTab({ tabSyncTimeoutMs: 1_000 }).ready)?.accessToken).toBe(session.accessToken)
    a!.destroy() // the page reloads
    const reloaded = openTab({ storage })
    const errors = record<AuthError>((listener) => reloaded.on('error', listener))
    expect((await reloaded.ready)?.accessToken).toBe(session.accessToken)
    expect(errors).toEqual([])
  })

  it('a stored rotation count at MAX_SAFE_INTEGER stays a safe integer after a refresh, and the tabs still agree', async () => {
    const storage = memoryStorage()
    const [lone] = await openTabs(1, { storage, crossTab: false })
    await lone!.login(ADA)
    await vi.waitFor(() => expect(storage.getItem(storageKey())).not.toBeNull())
    lone!.destroy()
    const stored = JSON.parse(storage.getItem(storageKey()) as string)
    storage.setItem(storageKey(), JSON.stringify({ ...stored, rotation: Number.MAX_SAFE_INTEGER }))
    const [a, b] = await openTabs(2, { storage })
    const refreshed = await a!.refresh()
    await vi.waitFor(() => expect(b!.getSession()?.accessToken).toBe(refreshed.accessToken))
    expect(Number.isSafeInteger(JSON.parse(storage.getItem(storageKey()) as string).rotation)).toBe(true)
    await b!.refresh()
    await vi.waitFor(() => expect(a!.getSession()?.accessToken).toBe(b!.getSession()?.accessToken))
    expect(mock().counts.reuseDetected).toBe(0)
  })

  it.each([
    ['memory storage: the session comes from the other tab', false],
    ['shared storage: the session comes from storage', true],
  ])('logout() in a tab that is still starting (%s): it stays logged out, and that session ends in every tab', async (_, shared) => {
    const storage = memoryStorage()
    const [a] = await openTabs(1, shared ? { storage } : {})
    await a!.login(ADA)
    await vi.waitFor(() => shared && expect(storage.getItem(storageKey())).not.toBeNull())
    const b = openTab(shared ? { storage } : {})
    const changes = record((listener) => b.on('change', listener))
    await b.logout() // before b has heard of the session

    expect(b.getSession()).toBeNull()
    await b.ready
    await vi.waitFor(() => expect(a!.getSession()).toBeNull())
    expect(b.getSession()).toBeNull()
    expect(changes).toEqual([])
    // A later login is not caught by that logout.
    const later = await a!.login(ADA)
    await vi.waitFor(() => expect(b.getSession()?.accessToken).toBe(later.accessToken))
  })

  it('a 429 with Retry-After in the leader holds every tab: 4 tabs asking once each make one refresh request, and each learns when to retry', async () => {
    const opened = await openTabs(4)
    await opened[0]!.login(ADA)
    await vi.waitFor(() => opened.forEach((tab) => expect(tab.getSession()).not.toBeNull()))
    mock().failNextRefreshes(100, { kind: 'rate-limited', retryAfterSec: 30 })
    const outcomes = await Promise.all(opened.map((tab) => tab.refresh().catch((error: AuthError) => error)))
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(mock().counts.refresh).toBe(1)
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ code: 'server' })
      expect((outcome as AuthError).retryAfterMs).toBeGreaterThan(25_000)
    }
  })

  it('crossTab: false keeps a tab to itself', async () => {
    const a = openTab({ crossTab: false })
    const b = openTab({ crossTab: false })
    await a.login(ADA)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(b.getSession()).toBeNull()
  })

  it('destroy() closes the channel and leaves the leader lock', async () => {
    const close = vi.spyOn(BroadcastChannel.prototype, 'close')
    const [a, b] = await openTabs(2, { lockTimeoutMs: 5_000 })
    await a!.login(ADA)
    await vi.waitFor(() => expect(b!.getSession()).not.toBeNull())
    a!.destroy()
    expect(close).toHaveBeenCalled()
    // b leads now, so its refresh goes through without waiting lockTimeoutMs for a.
    const started = Date.now()
    await b!.refresh()
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})
