import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, MINUTE, SECOND, START, useProbe } from './support.js'

// Second round. destroy() (an app that re-creates its client while the page stays visible: HMR, a
// route, a change of options) only *publishes* the activity it saw and had not told yet; it does
// not store it. Activity is told (and stored) at most once a minute while the user is active, so
// activity less than a minute after the last told one is lost for the next client on the same
// storage when there is no other tab to hear the message (one tab, or crossTab: false). The
// earlier probe destroyKeepsTheActivityItSaw.test.ts acts once a minute, so each activity was told
// on its own and it never saw this.
//
// Steps: idleTimeoutMs 10 min, one client on a memory storage; login at 0; activity (a document
// event) at 2:00 (told and stored: more than a minute since the login); activity at 2:30 (not told:
// less than a minute since 2:00); destroy(); a new client on the same storage.
// Expected: the session lives until 12:30 (+1 s grace): the user was active at 2:30.
// Actual: the new client restores `active` = 2:00 and ends the session (reason idle) at 12:01,
// 9.5 minutes after the user's last activity; the stored record still says 2:00 after destroy().
const { client, openTab, elapse, events, act, storageKey } = useProbe('probe-destroy-untold')

describe('destroy() stores the activity it saw and had not told yet', () => {
  it.each([false, true])('activity 30 s after the last told one, client re-created (crossTab: %s): the session lives 10 min after it', async (crossTab) => {
    const storage = memoryStorage()
    const make = () => (crossTab ? openTab({ storage, idleTimeoutMs: 10 * MINUTE }) : Promise.resolve(client({ storage, idleTimeoutMs: 10 * MINUTE })))
    const first = await make()
    await first.login(ADA)
    await elapse(2 * MINUTE, 10 * SECOND)
    act() // 2:00: told and stored
    await elapse(30 * SECOND, 10 * SECOND)
    act() // 2:30: seen, not told yet
    const lastActivity = Date.now()
    first.destroy()
    const second = await make()
    await second.ready
    // Stored by the time the next client read it (storage writes are queued, as every write is).
    const stored = JSON.parse(storage.getItem(storageKey()) as string) as { active?: number }
    const expired = events(second, 'session-expired')
    expect(second.getSession()).not.toBeNull()
    await elapse(START + 12 * MINUTE + 20 * SECOND - Date.now(), 5 * SECOND) // 12:20: 9:50 after 2:30
    expect(expired).toEqual([])
    expect(second.getSession()).not.toBeNull()
    expect(stored.active).toBe(lastActivity)
    await elapse(15 * SECOND, 5 * SECOND) // 12:35
    expect(expired.map((event) => event.reason)).toEqual(['idle'])
  })
})
