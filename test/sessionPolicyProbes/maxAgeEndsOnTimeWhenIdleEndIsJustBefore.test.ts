import { describe, expect, it } from 'vitest'
import { ADA, API, MINUTE, SECOND, START, useProbe } from './support.js'

// Found by the model (test/sessionPolicyModel.test.ts, invariant (f)): the policy computes one end,
// the earlier of the idle end and the max age, and waits GRACE_MS past it when it is the idle end.
// When the idle end falls less than GRACE_MS before the max age, that grace runs past the max age:
// the session outlives maxSessionMs by up to a second, its token goes out meanwhile, and it ends
// with reason 'idle'. The max age needs no grace: every tab knows it, and no news can move it.
const { client, elapse, events, requests } = useProbe('probe-max-age-grace')

describe('maxSessionMs is absolute, whatever the idle end next to it', () => {
  it('with the idle end 0.5 s before the max age, the session ends at login + maxSessionMs with reason max-age, and no request carries its token after', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE, maxSessionMs: 30 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    for (let minute = 1; minute < 20; minute++) {
      await elapse(MINUTE, 10 * SECOND)
      auth.extendSession()
    }
    await elapse(MINUTE - 500, 10 * SECOND)
    // The last activity: its idle end is START + 30 min - 0.5 s, the max age START + 30 min.
    auth.extendSession()
    await elapse(10 * MINUTE + 600, 100)
    expect(Date.now()).toBe(START + 30 * MINUTE + 100)
    await auth.fetch(API)
    expect(requests().filter((request) => request.token !== null && request.at > START + 30 * MINUTE)).toEqual([])
    expect(auth.getSession()).toBeNull()
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
  })
})
