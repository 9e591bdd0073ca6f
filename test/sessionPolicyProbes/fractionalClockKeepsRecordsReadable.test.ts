import { describe, expect, it } from 'vitest'
import { memoryStorage, type Clock } from '../../src/index.js'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// The `clock` option may give fractional milliseconds (the core floors generations: nextGen in
// sessionOrder.ts; receivedAt and expiresAt may be fractional). The policy writes the raw reading
// as `active`, which records and 'activity' messages must hold as a safe integer (isCount): the
// record is then malformed, so the next client removes it (logged out), and the other tabs drop
// the activity message and the session messages that carry it.
const { client, openTab, elapse, events, storageKey } = useProbe('probe-fractional-clock')

const clock: Clock = {
  now: () => Date.now() + 0.25,
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

describe('a clock with fractional milliseconds', () => {
  it('the record the policy wrote is read back by the next client', async () => {
    const storage = memoryStorage()
    const first = client({ storage, clock, idleTimeoutMs: 10 * MINUTE })
    await first.login(ADA)
    await elapse(MINUTE, 10 * SECOND)
    first.extendSession() // told and stored with `active`
    await elapse(SECOND)
    first.destroy()
    expect(JSON.parse(storage.getItem(storageKey()) as string)).toHaveProperty('active')
    const second = client({ storage, clock, idleTimeoutMs: 10 * MINUTE })
    const errors = events(second, 'error')
    expect(await second.ready).not.toBeNull()
    expect(errors).toEqual([])
  })

  it('activity in one tab keeps the other alive', async () => {
    const a = await openTab({ clock, idleTimeoutMs: 2 * MINUTE })
    const b = await openTab({ clock, idleTimeoutMs: 2 * MINUTE })
    await a.login(ADA)
    await elapse(SECOND)
    const expired = events(b, 'session-expired')
    for (let i = 0; i < 6; i++) {
      await elapse(30 * SECOND, 5 * SECOND)
      a.extendSession()
    }
    expect(expired.map((event) => event.reason)).toEqual([])
    expect(b.getSession()).not.toBeNull()
  })
})
