import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { ADA, API, MINUTE, SECOND, useProbe } from './support.js'

// Second round (lower severity: needs the wall clock stepped back during a session, by the user or
// a large NTP correction). Both limits are deadlines on the wall clock (`active` + idleTimeoutMs,
// `loginAt` + maxSessionMs) and the scheduler re-reads the wall clock, so a clock stepped back by
// an hour adds an hour to whatever limit is running, with tokens still sent. A clock that was
// ahead at the login and is corrected later gives a `loginAt` in the future, which restores also
// count "from now at the latest", so each reload starts the max age again. (The DESIGN's rule that
// expiry is "immune to a client clock that is wrong" holds for tokens, not for these limits.)
//
// Steps (1): idleTimeoutMs 5 min; login; after 1 min the clock steps back 1 h; no activity for
// 10 more minutes (real time). Expected: the session ends 5 min (+1 s) after the login, no token
// after. Actual: alive after 11 minutes, auth.fetch sends the token.
// Steps (2): maxSessionMs 10 min; the clock is 1 day ahead at the login, then corrected; 11 real
// minutes later. Expected: ended (max-age) 10 min after the login. Actual: alive, token sent.
const { client, elapse, settle, configure, server } = useProbe('probe-clock-back')

/** configure() puts the mock server's own API handler first: record the API's requests after it. */
function withApi(lifetimeSec: number) {
  configure({ accessTokenLifetimeSec: lifetimeSec })
  const tokens: (string | null)[] = []
  server.use(http.get(API, ({ request }) => (tokens.push(request.headers.get('authorization')?.replace(/^Bearer /, '') ?? null), HttpResponse.json({ ok: true }))))
  return tokens
}

describe('a wall clock stepped back does not extend the idle or max-age limit', () => {
  it('(1) idle: stepped back 1 h a minute after the login', async () => {
    const tokens = withApi(3600)
    const auth = client({ idleTimeoutMs: 5 * MINUTE })
    await auth.login(ADA)
    await elapse(MINUTE, 10 * SECOND)
    vi.setSystemTime(Date.now() - 60 * MINUTE)
    await elapse(10 * MINUTE, 10 * SECOND)
    await auth.fetch(API)
    await settle()
    expect(tokens).toEqual([null])
    expect(auth.getSession()).toBeNull()
  })

  it('(2) max-age: the clock a day ahead at the login, corrected after', async () => {
    // The monotonic clock (performance.now) runs with the test's time, as it does in a browser.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'], now: Date.now() })
    const tokens = withApi(3600)
    const realNow = Date.now()
    vi.setSystemTime(realNow + 24 * 60 * MINUTE)
    const auth = client({ maxSessionMs: 10 * MINUTE })
    await auth.login(ADA)
    vi.setSystemTime(realNow) // corrected
    await elapse(11 * MINUTE, 10 * SECOND)
    await auth.fetch(API)
    await settle()
    expect(tokens).toEqual([null])
    expect(auth.getSession()).toBeNull()
  })
})
