import { describe, expect, it } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// Activity seen by a client is told (and stored) only at the warning time, at the end and when the
// page is hidden. destroy() drops what it saw and did not tell yet: the next client on the same
// storage (an app that re-creates its client: HMR, a route, a change of options; the page stays
// visible) starts from the stored `active`, and ends the session idleTimeoutMs after it, though the
// user was active just before.
const { client, elapse, events, act } = useProbe('probe-destroy-activity')

describe('destroy() hands the activity it saw on to the next client', () => {
  it('active for 6 minutes, the client re-created: the session lives until 10 minutes after that activity', async () => {
    const storage = memoryStorage()
    const first = client({ storage, idleTimeoutMs: 10 * MINUTE })
    await first.login(ADA)
    for (let minute = 0; minute < 6; minute++) {
      await elapse(MINUTE, 10 * SECOND)
      act()
    }
    first.destroy()
    const second = client({ storage, idleTimeoutMs: 10 * MINUTE })
    const expired = events(second, 'session-expired')
    await second.ready
    await elapse(9 * MINUTE, 10 * SECOND) // 15 min: 9 min after the last activity
    expect(expired).toEqual([])
    expect(second.getSession()).not.toBeNull()
  })
})
