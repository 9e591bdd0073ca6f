import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { ADA, API, MINUTE, SECOND, START, useProbe } from './support.js'

// Second round. A tab tells its activity at most once a minute while the user is active; a tab
// with no activity of its own "asks" at its warning and end times and acts GRACE_MS (1 s) later,
// so the answer can arrive. After a sleep every timer is late, and the first tab to look at the
// clock past its own (stale) end + 1 s ends the session at once, for every tab and at the server,
// without asking: neither a late timer (check(true) past idleAt + GRACE_MS ends before it asks)
// nor a token path (auth.fetch/getAccessToken/refresh call lapsed()) gives the tab that saw the
// later activity a chance to tell it. README: "the session ends between idleTimeoutMs and
// idleTimeoutMs + 1 s after the last activity"; the commit says "a tab whose timers slept ...
// never ends a session others kept alive".
//
// Steps: idleTimeoutMs 10 min; tab a logs in; the user is active at 2:00 (told) and at 2:50 (seen
// by a, not told: less than a minute later); tab b opens (another window), knowing 2:00; the laptop
// sleeps until 12:05 (9:15 after the last activity); on wake, b (1) makes a request with
// auth.fetch, or (2) its late timer fires before a's.
// Expected: the session lives (the user was active 9:15 ago): b asks a before it ends anything,
// and the request goes out with the token (or waits for the answer).
// Actual: b ends the session (reason idle) in every tab and revokes it; the request goes out
// without a token. In (2) b's timer is made to fire first with sessionWarningMs 61 s in b (in a
// browser the order in which tabs' timers fire after a wake is arbitrary).
const { openTab, elapse, settle, events, act, server, configure } = useProbe('probe-wake-asks')

/** configure() puts the mock server's own API handler first: record the API's requests after it. */
function withApi(lifetimeSec: number) {
  configure({ accessTokenLifetimeSec: lifetimeSec })
  const tokens: (string | null)[] = []
  server.use(http.get(API, ({ request }) => (tokens.push(request.headers.get('authorization')?.replace(/^Bearer /, '') ?? null), HttpResponse.json({ ok: true }))))
  return tokens
}

describe('a tab waking past its stale idle end asks the other tabs before it ends the session', () => {
  async function setUp(bOptions = {}) {
    const tokens = withApi(3600) // no refresh: a refresh would tell the activity
    const a = await openTab({ idleTimeoutMs: 10 * MINUTE })
    await a.login(ADA)
    await elapse(2 * MINUTE, 10 * SECOND)
    act() // 2:00: told (more than a minute since the login)
    await elapse(50 * SECOND, 10 * SECOND)
    act() // 2:50: seen by a, not told yet
    const lastActivity = Date.now()
    const b = await openTab({ idleTimeoutMs: 10 * MINUTE, ...bOptions })
    expect(b.getSession()).not.toBeNull()
    return { a, b, lastActivity, tokens, expired: events(b, 'session-expired') }
  }

  it('(1) auth.fetch in the other tab right after the wake', async () => {
    const { a, b, lastActivity, tokens, expired } = await setUp()
    vi.setSystemTime(START + 12 * MINUTE + 5 * SECOND) // asleep: no timer ran
    expect(Date.now() - lastActivity).toBeLessThan(10 * MINUTE)
    await b.fetch(API)
    await settle()
    expect(expired).toEqual([])
    expect(a.getSession()).not.toBeNull()
    expect(tokens).toEqual([b.getSession()?.accessToken])
  })

  it("(2) the other tab's late timer fires first after the wake", async () => {
    const { a, b, lastActivity, expired } = await setUp({ sessionWarningMs: 61 * SECOND })
    // b's timer is due at 10:59 (its warning time): it fires at 12:05, late by the sleep.
    const due = START + 2 * MINUTE + 10 * MINUTE - 61 * SECOND + 500 - Date.now()
    vi.setSystemTime(START + 12 * MINUTE + 5 * SECOND - due)
    await vi.advanceTimersByTimeAsync(due)
    await settle()
    expect(Date.now() - lastActivity).toBeLessThan(10 * MINUTE)
    expect(expired).toEqual([])
    expect(a.getSession()).not.toBeNull()
    expect(b.getSession()).not.toBeNull()
  })
})
