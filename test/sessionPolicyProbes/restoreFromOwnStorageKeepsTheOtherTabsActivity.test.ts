import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// Found by the model (test/sessionPolicyModel.test.ts, storage 'tab', invariant (b)). A tab whose
// record is its own (sessionStorage, the setup crossTabRestore.test.ts covers) stores the last
// activity only when it saves for a reason of its own (its refresh, or one it adopts, or activity
// of its own): activity another tab tells it stays in its memory. Reloaded, it restores the stale
// `active` of its record and ends the session at once, for every tab and at the server, before it
// even asks the others (the restore's follow() runs first); or, if that stale end is still ahead,
// at that end. The others' answer carries the recent `active`, but an answer that is no newer
// change is not adopted, so its `active` is dropped.
const { configure, openTab, elapse, events, hide, live, familyOf } = useProbe('probe-own-storage')

describe('a tab that restores its own record (sessionStorage) keeps the activity the other tabs know', () => {
  it('reloaded while the user works in another tab, it does not end the session', async () => {
    configure({ accessTokenLifetimeSec: 15 * 60 }) // no refresh during the test: only activity moves `active`
    const kept = memoryStorage()
    const options = { idleTimeoutMs: 2 * MINUTE }
    let a = await openTab({ ...options, storage: kept })
    const b = await openTab({ ...options, storage: memoryStorage() })
    await a.login(ADA)
    await elapse(SECOND)
    const family = familyOf(a.getSession()!.accessToken)!
    const expired = events(b, 'session-expired')
    // The user works in tab b: each activity is told to tab a at once.
    for (let i = 0; i < 10; i++) {
      await elapse(30 * SECOND, 5 * SECOND)
      b.extendSession()
    }
    expect(b.getSession()).not.toBeNull()
    // The user reloads tab a: 5 minutes after the login, seconds after the last activity.
    hide()
    a.destroy()
    a = await openTab({ ...options, storage: kept })
    expect(expired).toEqual([])
    expect(a.getSession()).not.toBeNull()
    expect(b.getSession()).not.toBeNull()
    expect(live(family)).toHaveLength(1)
    // And the idle end is two minutes after the last activity, not before.
    await elapse(MINUTE + 50 * SECOND, 5 * SECOND)
    expect(expired).toEqual([])
  })

  it('reloaded before its stale end, it does not end the session at that end', async () => {
    configure({ accessTokenLifetimeSec: 15 * 60 })
    const kept = memoryStorage()
    const options = { idleTimeoutMs: 2 * MINUTE }
    let a = await openTab({ ...options, storage: kept })
    const b = await openTab({ ...options, storage: memoryStorage() })
    await a.login(ADA)
    await elapse(90 * SECOND, 5 * SECOND)
    b.extendSession() // 90 s after the login: the end moves to 3.5 min
    await elapse(10 * SECOND)
    hide()
    a.destroy()
    a = await openTab({ ...options, storage: kept })
    const expired = events(b, 'session-expired')
    // a's record says: last activity at the login, end at 2 min (+1 s grace).
    await elapse(MINUTE, 5 * SECOND)
    expect(expired).toEqual([])
    expect(a.getSession()).not.toBeNull()
  })
})
