import { describe, expect, it } from 'vitest'
import { ADA, MINUTE, SECOND, useProbe } from './support.js'

// A tab with no activity of its own acts GRACE_MS (1 s) late, the warning included: it comes
// sessionWarningMs - 1 s before the end. With sessionWarningMs <= 1 s (an accepted value: any
// number >= 0) the warning comes at or after the `expiresAt` it announces, and extendSession(),
// the documented answer to it, is refused there ("activity after the end"): the session ends a
// moment later although the user answered the warning at once.
const { client, elapse, events } = useProbe('probe-warning-answer')

describe('a session-warning answered at once with extendSession() keeps the session', () => {
  it.each([2_000, 1_000, 500])('sessionWarningMs: %i', async (sessionWarningMs) => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE, sessionWarningMs })
    const expired = events(auth, 'session-expired')
    const warnings = events(auth, 'session-warning')
    auth.on('session-warning', () => auth.extendSession())
    await auth.login(ADA)
    await elapse(10 * MINUTE + 5 * SECOND, SECOND)
    expect(warnings).toHaveLength(1)
    expect(expired).toEqual([])
    expect(auth.getSession()).not.toBeNull()
  })
})
