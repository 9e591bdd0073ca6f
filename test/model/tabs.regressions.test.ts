/**
 * Plain regression tests for sequences of tabs that went wrong: the three of issue 11, and the
 * ones the model-based test (tabs.model.test.ts) found and shrank. Each runs in the model's world
 * (fake clock moved timer by timer, fake Web Locks, the in-process channel, one mock auth server
 * with rotation and reuse detection) and drives the client through its public API only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Session } from '../../src/index.js'
import { createModelServer, World, type Op, type StorageKind, type Tab } from './harness.js'

const server = createModelServer()
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterAll(() => server.close())

let w: World | undefined
afterEach(async () => {
  await w?.stop()
  w = undefined
})

/** A fresh world: fake timers on, `Math.random` seeded so tab ids (and their tie-breaks) repeat. */
function world(kind: StorageKind = 'memory', seed = 1): World {
  w = World.start(server, kind, seed)
  return w
}

/** Waits (in fake time, at most 30 s) for a public API call to settle, then gives the tabs a step. */
async function settled<T>(op: Op<T>): Promise<Op<T>> {
  await w!.driveUntil(() => op.state !== 'pending', 30_000)
  await w!.step()
  return op
}

async function open(): Promise<Tab> {
  const tab = w!.openTab()
  await w!.step()
  return tab
}

const family = (session: Session | null | undefined): number | undefined => (session ? w!.familyOf(session.accessToken) : undefined)
/** The fate of every refresh token of a login family at the server. */
const fates = (id: number | undefined) => w!.mock.issued().filter((tokens) => tokens.family === id).map((tokens) => tokens.status)
/** Refresh tokens sent a second time (a retry after a transient failure is not one). */
const sentTwice = () => w!.duplicateSends()
const tokens = (tabs: Tab[]) => tabs.map((tab) => tab.client.getSession()?.accessToken ?? null)

describe('issue 11: known defects', () => {
  it('(a) a login in a tab opened while the others were logged out reaches them, and both tabs stay logged in past the next refresh', async () => {
    world('memory')
    const a = await open()
    await settled(w!.login(a, 'ada'))
    await settled(w!.track('logout', a.client.logout()))
    const b = await open()
    const login = await settled(w!.login(b, 'grace'))
    expect(login.state).toBe('fulfilled')
    expect(tokens([a, b])).toEqual([login.value!.accessToken, login.value!.accessToken])
    await w!.advance(241_000) // past the refresh margin of the 300 s token
    await w!.step()
    expect(w!.mock.counts.refresh).toBeGreaterThanOrEqual(1)
    expect(a.client.getSession()).not.toBeNull()
    expect(tokens([a])).toEqual(tokens([b]))
    expect(family(a.client.getSession())).toBe(family(login.value))
    expect(w!.mock.counts.reuseDetected).toBe(0)
  })

  it('(a, by expiry) a login in a tab opened after the session expired in the others reaches them', async () => {
    world('memory')
    const a = await open()
    const b = await open()
    await settled(w!.login(a, 'ada'))
    w!.close(a)
    w!.mock.failNextRefreshes(1, { kind: 'invalid_grant' })
    await w!.advance(301_000)
    await w!.step()
    expect(b.client.getSession()).toBeNull()
    const c = await open()
    const login = await settled(w!.login(c, 'ada'))
    expect(tokens([b, c])).toEqual([login.value!.accessToken, login.value!.accessToken])
  })

  it.each([
    ['in the order sent', false],
    ['the first answer last', true],
  ])('(b) two login() calls at once in one tab, answers %s: the second wins, the first session ends revoked', async (_, reversed) => {
    world('memory')
    const a = await open()
    if (reversed) w!.slowNextLogin(50)
    const first = w!.login(a, 'ada')
    const second = w!.login(a, 'grace')
    await w!.driveUntil(() => first.state !== 'pending' && second.state !== 'pending', 30_000)
    await w!.step()
    expect(second.state).toBe('fulfilled')
    expect(a.client.getSession()).toBe(second.value)
    expect(a.lastChange).toBe(second.value)
    const [lost] = w!.loginFamilies().filter((id) => id !== family(second.value))
    // The first call may resolve (its session superseded at once) or reject: either way its tokens end revoked.
    expect(fates(lost).every((fate) => fate === 'revoked')).toBe(true)
  })

  it('(b, in sequence) a second login revokes the first session', async () => {
    world('memory')
    const a = await open()
    const first = await settled(w!.login(a, 'ada'))
    const second = await settled(w!.login(a, 'grace'))
    expect(a.client.getSession()).toBe(second.value)
    expect(fates(family(first.value))).toEqual(['revoked'])
  })

  it('(c) logout() from a login listener: login() does not resolve with the dead session, and the last change is null', async () => {
    world('memory')
    const a = await open()
    let loggedOut: Op | undefined
    a.client.on('login', () => {
      loggedOut = w!.track('logout from a listener', a.client.logout())
    })
    const login = await settled(w!.login(a, 'ada'))
    await settled(loggedOut!)
    expect(a.client.getSession()).toBeNull()
    expect(a.lastChange).toBeNull()
    expect(login.state).toBe('rejected')
    expect(fates(1)).toEqual(['revoked'])
  })
})

describe('found by the model-based test', () => {
  it('a request made under one session never carries a token of a login made while it waited for a refresh', async () => {
    // Shrunk: open, failNextRefreshes(1, 503), login(ada), sleep(301 s), fetch, login(ada)
    world('memory')
    const a = await open()
    w!.mock.failNextRefreshes(1, { kind: 'server-error', status: 503 })
    const first = await settled(w!.login(a, 'ada'))
    await w!.sleep(301_000)
    await w!.step()
    const request = w!.fetchApi(a) // waits for the refresh, which is backing off after the 503
    await w!.settle()
    await settled(w!.login(a, 'ada'))
    await settled(request)
    const sent = w!.apiTokens()
    expect(sent).toHaveLength(1)
    expect(sent[0] === null || w!.familyOf(sent[0]!) === family(first.value)).toBe(true)
  })

  it('a request made in a follower tab never carries a token of a login made in another tab while it waited', async () => {
    // Shrunk: open, slowNextRefreshes(1, 5000 ms), login, sleep(301 s), open, fetch(tab 2), loginTwice(tab 1)
    world('shared', 2)
    const a = await open()
    w!.slowNextRefreshes(5_000, 1)
    const first = await settled(w!.login(a, 'ada'))
    await w!.sleep(301_000) // a refreshes; its answer is held 5 s
    await w!.step()
    const b = await open()
    const request = w!.fetchApi(b) // b's token is expired: it waits for the leader's refresh
    await w!.step()
    await settled(w!.login(a, 'grace'))
    await settled(request)
    const sent = w!.apiTokens()
    expect(sent).toHaveLength(1)
    expect(sent[0] === null || w!.familyOf(sent[0]!) === family(first.value)).toBe(true)
  })

  it('refresh() called after a login, while the previous session\'s refresh is still out, renews the new session', async () => {
    // Shrunk: slow answer, refresh, login(grace), sleep(301 s), refresh
    world('memory')
    const a = await open()
    await settled(w!.login(a, 'ada'))
    w!.slowNextRefreshes(5_000, 1)
    w!.track('refresh (ada)', a.client.refresh())
    await w!.step()
    const grace = await settled(w!.login(a, 'grace'))
    await w!.sleep(301_000)
    const renewed = await settled(w!.track('refresh (grace)', a.client.refresh()))
    expect(renewed.state).toBe('fulfilled')
    const session = renewed.value as Session
    expect(family(session)).toBe(family(grace.value))
    expect(session.expiresAt).toBeGreaterThan(Date.now())
  })

  it('a follower does not take over while the leader is still retrying a slow, failing refresh: no token is sent twice', async () => {
    // Shrunk: slowNextRefreshes(2, 5000 ms), failNextRefreshes(1, 503), open, open, login, sleep(301 s), advance
    world('memory', 960196016)
    w!.slowNextRefreshes(5_000, 2)
    w!.mock.failNextRefreshes(1, { kind: 'server-error', status: 503 })
    const a = await open()
    const b = await open()
    await settled(w!.login(a, 'ada'))
    await w!.sleep(301_000)
    await w!.advance(60_000)
    expect(sentTwice()).toEqual([])
    expect(w!.mock.counts.reuseDetected).toBe(0)
    expect(tokens([a])).toEqual(tokens([b]))
    expect(a.client.getSession()).not.toBeNull()
  })

  it('followers that give up on the leader at the same moment do not all send the refresh token', async () => {
    // Shrunk: open, fail(1, 503), login, open, open, sleep(301 s), fail(1, 503), open, fail(3, 503), refuse
    world('shared', 2147483629)
    const a = await open()
    w!.mock.failNextRefreshes(1, { kind: 'server-error', status: 503 })
    await w!.step()
    await settled(w!.login(a, 'ada'))
    await open()
    await open()
    await w!.sleep(301_000) // a refreshes for everyone and gets 503s; the others wait for it
    await w!.step()
    w!.mock.failNextRefreshes(1, { kind: 'server-error', status: 503 })
    await w!.step()
    await open()
    w!.mock.failNextRefreshes(3, { kind: 'server-error', status: 503 })
    await w!.step()
    w!.mock.failNextRefreshes(1, { kind: 'invalid_grant' })
    await w!.advance(60_000)
    expect(sentTwice()).toEqual([])
    expect(w!.mock.counts.reuseDetected).toBe(0)
  })

  it('a tab destroyed while its refresh is out hands the result over: the tab that replaces it never sends the spent token', async () => {
    // Shrunk: open, login, slowNextRefreshes(1, 500 ms), refresh, reload, sleep(301 s)
    world('memory')
    const a = await open()
    await settled(w!.login(a, 'ada'))
    w!.slowNextRefreshes(500, 1)
    w!.track('refresh', a.client.refresh())
    await w!.step()
    w!.close(a)
    const b = await open()
    await w!.sleep(301_000)
    await w!.advance(10_000)
    expect(sentTwice()).toEqual([])
    expect(w!.mock.counts.reuseDetected).toBe(0)
    expect(b.client.getSession() === null || family(b.client.getSession()) === 1).toBe(true)
  })

  it('a tab destroyed while its refresh waits for the leader sends nothing afterwards', async () => {
    // Shrunk: open, login, slowNextRefreshes(1, 5000 ms), sleep(301 s), open, close(1), advance(10 s)
    world('memory')
    const a = await open()
    await settled(w!.login(a, 'ada'))
    w!.slowNextRefreshes(5_000, 1)
    await w!.sleep(301_000) // a refreshes; its answer is held 5 s
    await w!.step()
    const b = await open() // b adopts the expiring session and asks a for a refresh
    w!.close(b)
    await w!.advance(30_000)
    expect(w!.refreshRequests().filter((request) => request.tab === b.id)).toEqual([])
    expect(w!.mock.counts.reuseDetected).toBe(0)
  })

  it('a destroyed tab whose refresh still waits does not bring a logged-out session back to life', async () => {
    // Shrunk: failNextRefreshes(1, 503), open, login, sleep(301 s), open, close(tab 2), login, logout, open
    world('memory', 2098398643)
    w!.mock.failNextRefreshes(1, { kind: 'server-error', status: 503 })
    const a = await open()
    await settled(w!.login(a, 'ada'))
    await w!.sleep(301_000) // a's refresh gets a 503 and backs off
    await w!.step()
    const b = await open() // b adopts the expired session and waits for a's refresh
    w!.close(b)
    await w!.step()
    await settled(w!.login(a, 'ada'))
    await settled(w!.track('logout', a.client.logout()))
    const c = await open()
    await w!.advance(60_000)
    expect(tokens([a, c])).toEqual([null, null])
    expect(sentTwice()).toEqual([])
  })

  it('the late refresh of a tab destroyed by a reload does not replace the login made after the reload', async () => {
    // Shrunk: open, login, slowNextRefreshes(1, 5000 ms), refresh, reload, login, advance
    world('memory', 749415037)
    const a = await open()
    await settled(w!.login(a, 'ada'))
    w!.slowNextRefreshes(5_000, 1)
    w!.track('refresh', a.client.refresh())
    await w!.step()
    w!.close(a)
    const b = await open()
    const login = await settled(w!.login(b, 'ada'))
    await w!.advance(10_000)
    expect(b.client.getSession()?.accessToken).toBe(login.value!.accessToken)
  })

  it('a tab that logged out while starting, then logged in, keeps its own login when the other tabs answer about it', async () => {
    // Shrunk: slowNextRefreshes(1, 5000 ms), open, loginTwice, close, sleep(301 s), open, logout, open, login, open
    world('shared', 1307938541)
    w!.slowNextRefreshes(5_000, 1)
    const a = await open()
    await settled(w!.login(a, 'ada'))
    w!.close(a)
    await w!.sleep(301_000)
    await w!.step()
    const b = await open() // restores the expired session and refreshes it: ready stays pending 5 s
    await settled(w!.track('logout', b.client.logout()))
    const c = await open()
    const login = await settled(w!.login(b, 'ada'))
    const d = await open()
    expect(tokens([b, c, d])).toEqual([login.value!.accessToken, login.value!.accessToken, login.value!.accessToken])
  })
})

describe('a login by redirect (the page an identity provider sends back), found by the model', () => {
  it('replaces the session the other tabs hold, and revokes it, though the tab that made it was closed', async () => {
    // Shrunk: open, open, login(0, ada), reload(0), openFromRedirect(ada), logout(0)
    world('memory', 918415200)
    const a = await open()
    const b = await open()
    await settled(w!.login(a, 'ada'))
    const first = family(a.client.getSession())
    w!.close(a)
    const reloaded = await open()
    const redirected = w!.openTab(undefined, 'ada')
    await settled(redirected.ready)
    const second = family(redirected.client.getSession())
    expect(second).not.toBe(first)
    expect(tokens([b, reloaded, redirected])).toEqual(Array(3).fill(redirected.client.getSession()!.accessToken))
    expect(fates(first)).toContain('revoked')
    expect(fates(first)).not.toContain('current')
  })

  it('lands at once when the restored session is expired and the server keeps failing its refresh', async () => {
    // Shrunk: failNextRefreshes(2, 503), failNextRefreshes(3, 503), open, login(0, ada), sleep(301 s), openFromRedirect(ada)
    world('shared', 2054661898)
    w!.mock.failNextRefreshes(5, { kind: 'server-error', status: 503 })
    const a = await open()
    await settled(w!.login(a, 'ada'))
    w!.close(a)
    await w!.sleep(301_000)
    await w!.step()
    const redirected = w!.openTab(undefined, 'ada')
    await w!.driveUntil(() => redirected.ready.state !== 'pending', 5_000)
    expect(redirected.ready.state).toBe('fulfilled')
    expect(family(redirected.client.getSession())).not.toBe(undefined)
    expect(redirected.client.getSession()!.expiresAt).toBeGreaterThan(Date.now())
  })
})

