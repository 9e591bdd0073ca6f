import { describe, expect, it } from 'vitest'
import { ADA, MINUTE, SECOND, START, useProbe } from './support.js'

// Second round. README, Events: "`session-extended`: after an idle `session-warning`, activity in
// some tab or `extendSession()` put the end off"; the README's example opens a "still there?"
// dialog on an idle warning and closes it on `session-extended`. When the activity puts the idle
// end off past the max age while the max-age warning is already due, check() sees a new end and a
// new reason and emits only `session-warning` { reason: 'max-age' }: the idle warning is never
// answered by a `session-extended`, so the app's "still there?" dialog stays open (and its button,
// extendSession(), does nothing visible) until the session ends.
//
// Steps: idleTimeoutMs 10 min, maxSessionMs 20 min, sessionWarningMs 60 s (default); login at 0;
// extendSession() at 9:30 (idle end 19:30); idle warning at 18:31 { idle, 19:30 }; the user is
// active at 19:10 (idle end now 29:10, so the end is the max age, 20:00, whose warning time 19:00
// has passed).
// Expected: `session-extended` { expiresAt: 20:00 } (the idle end was put off), then the max-age
// warning { max-age, 20:00 } (or the max-age warning first; either way a `session-extended`).
// Actual: only `session-warning` { max-age, 20:00 }; no `session-extended` after the idle warning.
const { client, elapse, settle, events, act } = useProbe('probe-idle-to-max-age')

describe('an idle warning put off by activity past the max age is answered by session-extended', () => {
  it('activity during the idle warning, inside the max-age warning time', async () => {
    const auth = client({ idleTimeoutMs: 10 * MINUTE, maxSessionMs: 20 * MINUTE })
    const sequence: string[] = []
    auth.on('session-warning', ({ reason, expiresAt }) => sequence.push(`warning ${reason} ${(expiresAt - START) / SECOND}`))
    auth.on('session-extended', ({ expiresAt }) => sequence.push(`extended ${(expiresAt - START) / SECOND}`))
    const expired = events(auth, 'session-expired')
    await auth.login(ADA)
    await elapse(9 * MINUTE + 30 * SECOND, 10 * SECOND)
    auth.extendSession() // 9:30, after the first idle warning (9:01)
    await elapse(9 * MINUTE + 40 * SECOND, 10 * SECOND) // 19:10
    expect(sequence).toEqual(['warning idle 600', 'extended 1170', 'warning idle 1170'])
    act() // 19:10: the idle end moves to 29:10, past the max age (20:00)
    await settle()
    expect(sequence.slice(3)).toContain('extended 1200')
    expect(sequence.slice(3)).toContain('warning max-age 1200')
    await elapse(MINUTE, 10 * SECOND)
    expect(expired.map((event) => event.reason)).toEqual(['max-age'])
  })
})
