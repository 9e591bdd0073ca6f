import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage } from '../src/index.js'
import { ADA, API, BASE_URL, MINUTE, SECOND, START, useProbe } from './sessionPolicyProbes/support.js'

// The probes' setup: fake Date and timers, clients that may join the test's tabs.
const { mock, server, client, settle, elapse, act, events, storageKey, channelName } = useProbe('policy')

/** The refresh token the server issued first (the login's), and what became of it. */
const loginFamilyStatus = () => mock().issued()[0]?.status

describe('idleTimeoutMs', () => {
  it('ends the session after the timeout with no activity: session-expired with reason idle, storage cleared, refresh token revoked', async () => {
    const storage = memoryStorage()
    const auth = client({ idleTimeoutMs: 10 * MINUTE, storage })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(10 * MINUTE - SECOND)
    expect(auth.getSession()).not.toBeNull()
    expect(expired).toEqual([])
    await elapse(3 * SECOND)
    expect(auth.getSession()).toBeNull()
    expect(expired).toHaveLength(1)
    expect(expired[0]!.reason).toBe('idle')
    expect(expired[0]!.error.code).toBe('session_expired')
    expect(storage.getItem(storageKey())).toBeNull()
    expect(loginFamilyStatus()).toBe('revoked')
  })

  it('activity keeps it alive past the timeout, through refreshes, and the end comes one timeout after the last activity', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    for (let minute = 0; minute < 30; minute++) {
      await elapse(MINUTE, 10 * SECOND)
      act(minute % 2 ? 'keydown' : 'pointermove')
    }
    expect(auth.getSession()).not.toBeNull()
    expect(mock().counts.refresh).toBeGreaterThan(3)
    await elapse(10 * MINUTE - 2 * SECOND)
    expect(expired).toEqual([])
    await elapse(4 * SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })

  it('warns sessionWarningMs before the end with its time; activity then puts it off and says so', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE, sessionWarningMs: 2 * MINUTE })
    const warnings = events(auth, 'session-warning')
    const extended = events(auth, 'session-extended')
    await auth.login(ADA)
    await elapse(8 * MINUTE - 2 * SECOND)
    expect(warnings).toEqual([])
    await elapse(4 * SECOND)
    // A tab with no activity of its own acts a second late: another tab may tell of some first.
    expect(warnings).toEqual([{ reason: 'idle', expiresAt: START + 10 * MINUTE }])
    await elapse(MINUTE)
    act('keydown')
    expect(extended).toEqual([{ expiresAt: Date.now() + 10 * MINUTE }])
    await elapse(2 * MINUTE)
    expect(auth.getSession()).not.toBeNull()
    expect(warnings).toHaveLength(1)
  })

  it('extendSession() answers the warning: the end moves a full timeout on', async () => {
    const auth = client({ idleTimeoutMs: 4 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(3.5 * MINUTE)
    auth.extendSession()
    await elapse(3.9 * MINUTE)
    expect(expired).toEqual([])
    await elapse(0.2 * MINUTE)
    expect(expired).toHaveLength(1)
  })

  it('a laptop that slept past the timeout: the first request goes out without the token, after session-expired', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    const order: string[] = []
    auth.on('session-expired', ({ reason }) => order.push(`expired:${reason}`))
    await auth.login(ADA)
    server.use(
      http.get(API, ({ request }) => {
        order.push(`request:${request.headers.get('authorization') ?? 'none'}`)
        return HttpResponse.json({}, { status: 401 })
      }),
    )
    // Asleep: the clock jumps, no timer runs.
    vi.setSystemTime(Date.now() + 60 * MINUTE)
    const refreshes = mock().counts.refresh
    await auth.fetch(API)
    expect(order).toEqual(['expired:idle', 'request:none'])
    expect(mock().counts.refresh).toBe(refreshes)
    await settle()
    expect(loginFamilyStatus()).toBe('revoked')
  })

  it('waking up from sleep (visibilitychange, focus) counts as no activity: the session ends, nothing brings it back', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    vi.setSystemTime(Date.now() + 60 * MINUTE)
    act('visibilitychange')
    window.dispatchEvent(new Event('focus'))
    act('pointerdown')
    await settle()
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    expect(auth.getSession()).toBeNull()
    expect(await auth.getAccessToken()).toBeNull()
    expect(mock().counts.refresh).toBe(0)
  })

  it('getAccessToken() after a sleep past the timeout gives null and sends no refresh', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    await auth.login(ADA)
    vi.setSystemTime(Date.now() + 11 * MINUTE)
    expect(await auth.getAccessToken()).toBeNull()
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'no_session' })
    expect(mock().counts.refresh).toBe(0)
  })

  it('time with no tab open counts: a session restored after the timeout ends at once, revoked', async () => {
    const storage = memoryStorage()
    const first = client({ idleTimeoutMs: 10 * MINUTE, storage })
    await first.login(ADA)
    await elapse(2 * MINUTE)
    act()
    // The tab is hidden, then closed: its last activity is kept with the session.
    Object.defineProperty(document, 'hidden', { value: true, configurable: true })
    act('visibilitychange')
    delete (document as { hidden?: boolean }).hidden
    first.destroy()
    await elapse(5 * MINUTE)
    const early = client({ idleTimeoutMs: 10 * MINUTE, storage })
    expect(await early.ready).not.toBeNull()
    early.destroy()
    // 10 minutes after that activity, with no tab open in between (the tab above never saw any).
    vi.setSystemTime(START + 12 * MINUTE + SECOND + 1)
    const late = client({ idleTimeoutMs: 10 * MINUTE, storage })
    const expired = events(late, 'session-expired')
    await late.ready
    await settle()
    expect(late.getSession()).toBeNull()
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    expect(storage.getItem(storageKey())).toBeNull()
    expect(loginFamilyStatus()).toBe('revoked')
  })

  it('holds no listener and no timer while logged out', async () => {
    const added = vi.spyOn(document, 'addEventListener')
    const removed = vi.spyOn(document, 'removeEventListener')
    const auth = client({ idleTimeoutMs: 10 * MINUTE, maxSessionMs: 60 * MINUTE })
    await auth.ready
    expect(vi.getTimerCount()).toBe(0)
    expect(added.mock.calls.filter(([type]) => type === 'pointerdown')).toHaveLength(0)
    await auth.login(ADA)
    expect(added.mock.calls.filter(([type]) => type === 'pointerdown')).toHaveLength(1)
    const listening = added.mock.invocationCallOrder[added.mock.calls.findIndex(([type]) => type === 'pointerdown')]!
    expect(removed.mock.invocationCallOrder.filter((order, index) => order > listening && removed.mock.calls[index]![0] === 'pointerdown')).toHaveLength(0)
    await auth.logout()
    await settle()
    expect(removed.mock.invocationCallOrder.filter((order, index) => order > listening && removed.mock.calls[index]![0] === 'pointerdown')).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(0)
    added.mockRestore()
    removed.mockRestore()
  })
})

describe('maxSessionMs', () => {
  it('ends the session that long after the login, whatever the activity and refreshes: reason max-age, revoked', async () => {
    const auth = client({ maxSessionMs: 30 * MINUTE, idleTimeoutMs: 10 * MINUTE })
    const expired = events(auth, 'session-expired')
    const warnings = events(auth, 'session-warning')
    await auth.login(ADA)
    for (let minute = 0; minute < 29; minute++) {
      await elapse(MINUTE, 10 * SECOND)
      act()
    }
    expect(warnings).toEqual([{ reason: 'max-age', expiresAt: START + 30 * MINUTE }])
    auth.extendSession()
    await elapse(MINUTE - SECOND)
    expect(expired).toEqual([])
    await elapse(SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
    expect(mock().counts.refresh).toBeGreaterThan(3)
    expect(mock().issued().every((tokens) => tokens.status !== 'current')).toBe(true)
  })

  it('is carried across a reload: the restored session ends at the same moment', async () => {
    const storage = memoryStorage()
    const first = client({ maxSessionMs: 30 * MINUTE, storage })
    await first.login(ADA)
    await elapse(20 * MINUTE, 10 * SECOND)
    first.destroy()
    const second = client({ maxSessionMs: 30 * MINUTE, storage })
    const expired = events(second, 'session-expired')
    await second.ready
    await elapse(10 * MINUTE - SECOND)
    expect(second.getSession()).not.toBeNull()
    await elapse(SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
  })

  it('a refused refresh still expires with reason refresh-refused', async () => {
    const auth = client({ maxSessionMs: 30 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    mock().revokeAllSessions()
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'session_expired' })
    expect(expired.map((event) => event.reason)).toEqual(['refresh-refused'])
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('session policies across tabs', () => {
  it('activity in one tab keeps every tab alive; with none, every tab ends at once with reason idle', async () => {
    const tabs = [client({ idleTimeoutMs: 5 * MINUTE }, true), client({ idleTimeoutMs: 5 * MINUTE }, true)]
    await elapse(SECOND)
    await Promise.all(tabs.map((tab) => tab.ready))
    const expired = tabs.map((tab) => events(tab, 'session-expired'))
    const warnings = tabs.map((tab) => events(tab, 'session-warning'))
    await tabs[0]!.login(ADA)
    await elapse(SECOND)
    expect(tabs[1]!.getSession()).not.toBeNull()
    // Only the first tab sees the user: both tabs share its document here, so its activity is told
    // by hand, as the other tab's would be: through the first tab, at the moments that matter.
    for (let minute = 0; minute < 12; minute++) {
      await elapse(MINUTE, 10 * SECOND)
      tabs[0]!.extendSession()
    }
    expect(tabs.map((tab) => tab.getSession())).not.toContain(null)
    expect(warnings).toEqual([[], []])
    await elapse(5 * MINUTE + 2 * SECOND, 10 * SECOND)
    expect(expired.map((list) => list.map((event) => event.reason))).toEqual([['idle'], ['idle']])
    expect(loginFamilyStatus()).toBe('revoked')
  })

  it('a message posing as a tab cannot keep the session alive beyond its own moment', async () => {
    const tab = client({ idleTimeoutMs: 5 * MINUTE }, true)
    await elapse(SECOND)
    await tab.ready
    await tab.login(ADA)
    const expired = events(tab, 'session-expired')
    const channel = new BroadcastChannel(channelName())
    await elapse(MINUTE)
    // The sid is not secret, but a forger must know it: take it from the tab's own messages.
    const sid = await new Promise<string>((resolve) => {
      channel.onmessage = (event) => event.data.record?.sid && resolve(event.data.record.sid)
      channel.postMessage({ type: 'hello', from: 'forger', gen: 1 })
    })
    channel.postMessage({ type: 'activity', from: 'forger', gen: 1, sid, at: Number.MAX_SAFE_INTEGER })
    await settle()
    await elapse(5 * MINUTE + 2 * SECOND, 10 * SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    channel.close()
  })
})

describe('policy options', () => {
  it.each([
    ['idleTimeoutMs', 0],
    ['idleTimeoutMs', -1],
    ['idleTimeoutMs', Infinity],
    ['idleTimeoutMs', '600000'],
    ['maxSessionMs', Number.NaN],
    ['sessionWarningMs', -5],
  ])('%s: %s is refused with a TypeError naming it', (name, value) => {
    expect(() => createAuthClient({ baseUrl: BASE_URL, [name]: value })).toThrow(new RegExp(name))
  })
})
