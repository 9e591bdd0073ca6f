import { describe, expect, it, vi } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, MINUTE, SECOND, START, useProbe } from './support.js'

// Activity seen by a tab is told to the others (and stored) only when the tab's timer reaches the
// warning time or the end, or when the page is hidden. After a sleep that timer is late (timers do
// not run while the laptop sleeps) and, with no visibility or focus event on wake, nothing re-arms
// it: activity seen after the wake is not counted against the real end (1), and is not told before
// a tab with timers of its own ends the session (2, found by the model: sleep, activity, a tab
// opened, its end).
const { client, configure, openTab, elapse, events, act } = useProbe('probe-sleep-activity')

describe('activity after a wake-up counts until the real idle end', () => {
  it('(1) one tab, active at 5 min, asleep until 11 min, active at 11 min: the session lives until 21 min', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(5 * MINUTE, 10 * SECOND)
    act() // 5 min: to be told at the warning time, 9 min
    vi.setSystemTime(Date.now() + 6 * MINUTE) // asleep: no timer runs
    expect(Date.now()).toBe(START + 11 * MINUTE)
    // 11 min: before the real end (15 min), but after the end this tab computed from what it had
    // told (10 min): dropped as "activity after the end".
    act()
    await elapse(9 * MINUTE, 10 * SECOND) // to 20 min
    expect(expired).toEqual([])
    expect(auth.getSession()).not.toBeNull()
    await elapse(MINUTE + 2 * SECOND, SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })

  it('(2) two tabs asleep from 2 to 7 min, the user active at 7 min, a third tab opened (another window): the session lives until 17 min', async () => {
    configure({ accessTokenLifetimeSec: 3600 }) // no refresh: a refresh would make a tab tell its activity
    const storage = memoryStorage()
    const a = await openTab({ idleTimeoutMs: 10 * MINUTE, storage })
    const b = await openTab({ idleTimeoutMs: 10 * MINUTE, storage })
    await a.login(ADA)
    const expired = events(b, 'session-expired')
    await elapse(2 * MINUTE, 10 * SECOND)
    vi.setSystemTime(Date.now() + 5 * MINUTE) // asleep; on wake the page stays visible: no event
    act() // 7 min (+ a few ms): seen by a and b, to be told at their warning time (late by 5 min)
    await elapse(30 * SECOND, 10 * SECOND)
    // A tab opened in another window: the page of a and b stays visible. Its timers run on time.
    const c = await openTab({ idleTimeoutMs: 10 * MINUTE, storage })
    expect(c.getSession()).not.toBeNull()
    await elapse(4 * MINUTE, 10 * SECOND) // to 11.5 min
    expect(expired).toEqual([])
    expect(a.getSession()).not.toBeNull()
  })
})
