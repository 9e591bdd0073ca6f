import { describe, expect, it, vi } from 'vitest'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// The max age runs from `born`, the login's generation: max(wall clock, the tab's clock + 1), and
// the tab's clock is the largest generation it has seen (storage, any tab message), accepted up to
// 2^32 ms (50 days) ahead. After the wall clock was set back (an NTP correction of a clock that ran
// ahead; crossTabRestore.test.ts covers it for the order of sessions), or after one message on the
// channel with a generation far ahead, a login is born ahead of the wall clock, and maxSessionMs
// counts from that future moment: the session outlives its limit by as much.
const { client, openTab, elapse, events, channelName } = useProbe('probe-max-age-clock')

describe('maxSessionMs counts from the login as the wall clock saw it', () => {
  it('a login made after the clock was set back 1 hour ends maxSessionMs after it, not 1 hour later', async () => {
    const auth = client({ maxSessionMs: 30 * MINUTE })
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await auth.logout()
    // The clock ran an hour ahead; it is corrected.
    vi.setSystemTime(Date.now() - 60 * MINUTE)
    await auth.login(ADA)
    await elapse(30 * MINUTE + SECOND, 10 * SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
    expect(auth.getSession()).toBeNull()
  })

  it('one message with a generation far ahead on the channel does not put the max age of the next login off', async () => {
    const tab = await openTab({ maxSessionMs: 30 * MINUTE })
    const expired = events(tab, 'session-expired')
    const channel = new BroadcastChannel(channelName())
    // Within what a tab accepts: 2^32 ms past its clock and the wall clock.
    channel.postMessage({ type: 'hello', from: 'forger', gen: Date.now() + 2 ** 32 - MINUTE })
    await elapse(SECOND)
    await tab.login(ADA)
    await elapse(30 * MINUTE + SECOND, 10 * SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
    expect(tab.getSession()).toBeNull()
    channel.close()
  })
})
