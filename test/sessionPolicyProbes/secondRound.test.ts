import { describe, expect, it, vi } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, MINUTE, SECOND, START, useProbe } from './support.js'

// The second outsider round against the reworked session policies (commit 9fbadf9): what held up.
// Each failure found has a file of its own in this folder.
const { client, openTab, elapse, settle, events, act, live, familyOf, mock, channelName, configure, storageKey } = useProbe('probe-second-round')

/** Counts BroadcastChannel posts by message type (every tab of the test shares the prototype). */
function countPosts() {
  const post = vi.spyOn(BroadcastChannel.prototype, 'postMessage')
  return () => {
    const types: Record<string, number> = {}
    for (const [message] of post.mock.calls) types[(message as { type: string }).type] = (types[(message as { type: string }).type] ?? 0) + 1
    return types
  }
}

describe('message and storage traffic', () => {
  it('one tab, the user active every 5 s for 30 min: one activity message and one write a minute at most', async () => {
    const storage = memoryStorage()
    const writes = vi.spyOn(storage, 'setItem')
    const tab = await openTab({ idleTimeoutMs: 15 * MINUTE, storage })
    await tab.login(ADA)
    await settle()
    writes.mockClear()
    const posts = countPosts()
    for (let i = 0; i < (30 * MINUTE) / (5 * SECOND); i++) {
      await elapse(5 * SECOND, 5 * SECOND)
      act('pointermove')
    }
    const refreshes = mock().issued().filter((tokens) => tokens.grant === 'refresh').length
    expect(tab.getSession()).not.toBeNull()
    expect(posts().activity).toBeLessThanOrEqual(31) // measured: 30
    expect(writes.mock.calls.length).toBeLessThanOrEqual(31 + refreshes) // measured: 37 with 7 refreshes
  })

  it('three idle tabs from the login to the idle end: a handful of messages, no ping-pong, nothing after', async () => {
    const tabs = [await openTab({ idleTimeoutMs: 5 * MINUTE }), await openTab({ idleTimeoutMs: 5 * MINUTE }), await openTab({ idleTimeoutMs: 5 * MINUTE })]
    await tabs[0]!.login(ADA)
    await settle()
    const posts = countPosts()
    await elapse(5 * MINUTE + 2 * SECOND, SECOND)
    expect(tabs.map((tab) => tab.getSession())).toEqual([null, null, null])
    const total = Object.values(posts()).reduce((sum, count) => sum + count, 0)
    expect(total).toBeLessThanOrEqual(20)
    const after = Object.values(posts()).reduce((sum, count) => sum + count, 0)
    await elapse(5 * MINUTE, 10 * SECOND)
    expect(Object.values(posts()).reduce((sum, count) => sum + count, 0)).toBe(after)
    expect(vi.getTimerCount()).toBe(0)
  })

  it("a forged 'activity' message with an old time: each of three tabs answers once, then quiet", async () => {
    const tabs = [await openTab({ idleTimeoutMs: 15 * MINUTE }), await openTab({ idleTimeoutMs: 15 * MINUTE }), await openTab({ idleTimeoutMs: 15 * MINUTE })]
    await tabs[0]!.login(ADA)
    await elapse(2 * MINUTE, 10 * SECOND)
    act()
    const channel = new BroadcastChannel(channelName())
    const sid = await new Promise<string>((resolve) => {
      channel.onmessage = (event: MessageEvent) => {
        const record = (event.data as { record?: { sid?: string } }).record
        if (record?.sid) resolve(record.sid)
      }
      channel.postMessage({ type: 'hello', from: 'forger', gen: 1 })
    })
    await settle()
    const posts = countPosts()
    channel.postMessage({ type: 'activity', from: 'forger', gen: 1, sid, at: 5 })
    await elapse(5 * SECOND, 100)
    expect(posts()).toEqual({ activity: 1 + 3 })
    channel.close()
  })
})

describe('odd orders', () => {
  it('logout in one tab while the other asks at its warning time: a logout event only, nothing left', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await a.login(ADA)
    const seen: string[] = []
    for (const type of ['session-warning', 'session-extended', 'session-expired', 'logout'] as const) a.on(type, () => seen.push(type))
    await elapse(4 * MINUTE + 500, 100) // a asked at 4:00; its warning comes at 4:01
    await b.logout()
    await elapse(3 * MINUTE, SECOND)
    expect(seen).toEqual(['logout'])
    expect(a.getSession()).toBeNull()
    expect(vi.getTimerCount()).toBe(0)
    expect(live(1)).toEqual([])
  })

  it('a login in tab a half a second past the idle end (inside the grace): b takes the new session, the old is revoked', async () => {
    const a = await openTab({ idleTimeoutMs: 5 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await a.login(ADA)
    await elapse(5 * MINUTE + 500, 100)
    const login = a.login(ADA)
    await elapse(2 * SECOND, 100)
    await login
    expect(familyOf(a.getSession()?.accessToken)).toBe(2)
    expect(familyOf(b.getSession()?.accessToken)).toBe(2)
    expect(live(1)).toEqual([])
    await elapse(4 * MINUTE, 10 * SECOND)
    expect(a.getSession()).not.toBeNull()
    expect(b.getSession()).not.toBeNull()
  })

  it('extendSession() on a destroyed client: no timer, no message', async () => {
    const auth = await openTab({ idleTimeoutMs: 5 * MINUTE })
    await auth.login(ADA)
    await settle()
    auth.destroy()
    await settle()
    const posts = countPosts()
    auth.extendSession()
    act()
    await settle()
    expect(posts()).toEqual({})
    expect(vi.getTimerCount()).toBe(0)
  })

  it('two clients on one page, one key, idleTimeoutMs 2 and 10 min: the shorter ends both, once each', async () => {
    const short = await openTab({ idleTimeoutMs: 2 * MINUTE })
    const long = await openTab({ idleTimeoutMs: 10 * MINUTE })
    await long.login(ADA)
    const expired = [events(short, 'session-expired'), events(long, 'session-expired')]
    await elapse(3 * MINUTE, SECOND)
    expect(expired.map((list) => list.map((event) => event.reason))).toEqual([['idle'], ['idle']])
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('limits and token lifetimes', () => {
  it('idleTimeoutMs longer than the token lifetime (60 s): refreshes go on until the end, none after, nothing current', async () => {
    configure({ accessTokenLifetimeSec: 60 })
    const a = await openTab({ idleTimeoutMs: 10 * MINUTE })
    const b = await openTab({ idleTimeoutMs: 10 * MINUTE })
    await a.login(ADA)
    const expired = events(b, 'session-expired')
    await elapse(10 * MINUTE + 2 * SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
    const issued = mock().issued().length
    expect(mock().issued().filter((tokens) => tokens.grant === 'refresh').length).toBeGreaterThan(5)
    expect(mock().issued().filter((tokens) => tokens.status === 'current')).toEqual([])
    await elapse(5 * MINUTE, 10 * SECOND)
    expect(mock().issued()).toHaveLength(issued)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('maxSessionMs (30 s) shorter than sessionWarningMs (60 s): one warning halfway, then the end', async () => {
    const auth = client({ maxSessionMs: 30 * SECOND, sessionWarningMs: 60 * SECOND })
    const warnings = events(auth, 'session-warning')
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(40 * SECOND, 500)
    expect(warnings.map((warning) => [warning.reason, warning.expiresAt - START])).toEqual([['max-age', 30 * SECOND]])
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
  })

  it('a restored record whose loginAt is a year ahead: the max age counts from the restore at the latest', async () => {
    const storage = memoryStorage()
    const first = client({ storage })
    await first.login(ADA)
    first.destroy()
    const record = JSON.parse(storage.getItem(storageKey()) as string) as Record<string, unknown>
    storage.setItem(storageKey(), JSON.stringify({ ...record, loginAt: START + 365 * 24 * 60 * MINUTE }))
    await elapse(5 * MINUTE, 10 * SECOND)
    const auth = client({ storage, maxSessionMs: 10 * MINUTE })
    const expired = events(auth, 'session-expired')
    expect(await auth.ready).not.toBeNull()
    await elapse(10 * MINUTE + SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
  })
})
