import { http, HttpResponse } from 'msw'
import { describe, expect, it, vi } from 'vitest'
import { memoryStorage, type Clock } from '../src/index.js'
import { BASE_URL, record, useMockAuthServer, useTabs } from './helpers.js'

// Tabs that start while others live: what they restore (a per-tab record, a cookie) against what
// the other tabs know, and a logout made before the tab heard of anything.
const { server, mock } = useMockAuthServer({ users: { ada: 'lovelace', grace: 'hopper' } })
const ADA = { username: 'ada', password: 'lovelace' }
const GRACE = { username: 'grace', password: 'hopper' }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const { openTab } = useTabs('restore')

/** A wall clock every tab shares, which can be set back or forward (an NTP correction). */
function shiftedClock() {
  let offset = 0
  const clock: Clock = {
    now: () => Date.now() + offset,
    setTimeout: (run, ms) => setTimeout(run, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  }
  return { clock, shift: (ms: number) => (offset += ms) }
}

/** Tab a, on a storage of its own (`kept`, its sessionStorage), and tab b, both logged in as ada. */
async function twoTabsLoggedIn() {
  const kept = memoryStorage()
  const a = openTab({ storage: kept })
  const b = openTab()
  await Promise.all([a.ready, b.ready])
  await a.login(ADA)
  await vi.waitFor(() => expect(b.getSession()).not.toBeNull())
  return { kept, a, b }
}

describe('a tab that restores a record of its own (sessionStorage) asks the others about it first', () => {
  it('reopened after a logout in another tab, it starts logged out: no session comes back', async () => {
    const { kept, a, b } = await twoTabsLoggedIn()
    a.destroy()
    await b.logout()
    const reopened = openTab({ storage: kept })
    expect(await reopened.ready).toBeNull()
    await sleep(100)
    expect(reopened.getSession()).toBeNull()
  })

  it('reopened after another user logged in in another tab, it shows that user', async () => {
    const { kept, a, b } = await twoTabsLoggedIn()
    a.destroy()
    await b.logout()
    const grace = await b.login(GRACE)
    const reopened = openTab({ storage: kept })
    await reopened.ready
    await vi.waitFor(() => expect(reopened.getSession()?.accessToken).toBe(grace.accessToken))
    const refreshed = await b.refresh()
    await vi.waitFor(() => expect(reopened.getSession()?.accessToken).toBe(refreshed.accessToken))
  })

  it('reloaded while another tab refreshed, it takes the newer rotation instead of sending the spent refresh token', async () => {
    const { kept, a, b } = await twoTabsLoggedIn()
    a.destroy() // a reloads
    await sleep(20)
    const rotated = await b.refresh() // during the gap b (leading now) rotates
    const reloaded = openTab({ storage: kept })
    expect((await reloaded.ready)?.accessToken).toBe(rotated.accessToken)
    const expired = record((listener) => reloaded.on('session-expired', listener))
    b.destroy()
    await reloaded.refresh()
    expect(mock().counts.reuseDetected).toBe(0)
    expect(expired).toEqual([])
  })
})

describe('a tab that restores a session the others do not hold', () => {
  it('tells them: the tabs that hold nothing take it, follow its refreshes, and a logout in any of them ends it everywhere', async () => {
    const kept = memoryStorage()
    const first = openTab({ storage: kept })
    await first.ready
    await first.login(ADA)
    first.destroy()
    const [l, b] = [openTab(), openTab()]
    await Promise.all([l.ready, b.ready])
    expect(b.getSession()).toBeNull()
    const r = openTab({ storage: kept })
    expect(await r.ready).not.toBeNull()
    await vi.waitFor(() => expect(b.getSession()?.accessToken).toBe(r.getSession()?.accessToken))
    const refreshed = await r.refresh()
    await vi.waitFor(() => [l, b].forEach((tab) => expect(tab.getSession()?.accessToken).toBe(refreshed.accessToken)))
    await b.logout()
    await vi.waitFor(() => [l, r].forEach((tab) => expect(tab.getSession()).toBeNull()))
  })
})

describe('a logout made in a tab that is still starting', () => {
  it('ends the session the tab then hears of, even with the wall clock set back an hour since that login', async () => {
    const time = shiftedClock()
    const a = openTab({ clock: time.clock })
    await a.ready
    await a.login(ADA)
    time.shift(-3_600_000)
    const c = openTab({ clock: time.clock })
    await c.logout() // before c heard of a's session
    await c.ready
    await vi.waitFor(() => expect(a.getSession()).toBeNull())
    expect(c.getSession()).toBeNull()
  })
})

describe('refreshTokenInCookie across tabs', () => {
  it('a session resumed with the cookie reaches a tab that logged out earlier and stayed open, and that tab does not end it', async () => {
    let cookie = false
    const tokens = async () => HttpResponse.json({ accessToken: await mock().issueAccessToken('ada'), expiresIn: 300 })
    server.use(
      http.post(`${BASE_URL}/auth/login`, () => ((cookie = true), tokens())),
      http.post(`${BASE_URL}/auth/refresh`, () => (cookie ? tokens() : HttpResponse.json({ error: 'invalid_grant' }, { status: 401 }))),
      http.post(`${BASE_URL}/auth/logout`, () => ((cookie = false), new HttpResponse(null, { status: 204 }))),
    )
    const b = openTab({ refreshTokenInCookie: true })
    await b.ready
    await b.login(ADA)
    await b.logout() // b stays open on the login page
    await sleep(20)
    cookie = true // the user logs in through the server's own form, which sets the cookie
    const a = openTab({ refreshTokenInCookie: true })
    const resumed = await a.ready
    expect(resumed).not.toBeNull()
    await vi.waitFor(() => expect(b.getSession()?.accessToken).toBe(resumed?.accessToken))
    const logouts = record((listener) => a.on('logout', listener))
    const c = openTab({ refreshTokenInCookie: true })
    expect((await c.ready)?.accessToken).toBe(resumed?.accessToken)
    await sleep(100)
    expect(a.getSession()).not.toBeNull()
    expect(logouts).toEqual([])
  })
})
