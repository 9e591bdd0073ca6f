// @vitest-environment node
import { expect, it } from 'vitest'
import { describeInEngines, goBackTo, openTestPage, useBrowserSuite, useContextPerTest, type TestPage as Page } from './harness.js'

describeInEngines('cross-tab', (engine) => {
  const suite = useBrowserSuite(engine)
  const context = useContextPerTest(suite)

  const openTab = async (query = ''): Promise<Page> => openTestPage(await context().newPage(), suite.server, query)
  const session = (page: Page) => page.evaluate(() => window.auth.getSession()?.accessToken ?? null)
  const login = (page: Page) => page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }).then((s) => s.accessToken))

  it('4 tabs on an expiring token: exactly one refresh request reaches the server, and no tab is logged out', async () => {
    suite.server.setLifetime(6)
    const tabs = [await openTab('refreshMarginMs=2000')]
    for (let i = 0; i < 3; i++) tabs.push(await openTab('refreshMarginMs=2000'))
    const first = await login(tabs[0]!)
    await expect.poll(() => Promise.all(tabs.map(session)), { timeout: 2_000 }).toEqual([first, first, first, first])
    // The token lives 6 s and is refreshed 2 s early: every tab's timer fires together, 4 s after
    // login, and the next refresh is 4 s after that.
    await expect.poll(() => suite.server.stats.refresh, { timeout: 6_000 }).toBeGreaterThan(0)
    // Every tab on the one new token (the answer, then the news to three tabs, takes a moment)...
    await expect
      .poll(async () => {
        const tokens = await Promise.all(tabs.map(session))
        return new Set(tokens).size === 1 && tokens[0] !== first && tokens[0] !== null
      }, { timeout: 3_000 })
      .toBe(true)
    // ...and, with room for any other tab's refresh to have landed, from that one request.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(suite.server.stats.refresh).toBe(1)
    const expired = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.events.filter((e) => e.type === 'session-expired').length)))
    expect(expired).toEqual([0, 0, 0, 0])
  }, 30_000)

  it.each(['memory', 'local'])('20 rotations in a row with 4 tabs, %s storage: zero reuse detections', async (storage) => {
    const tabs: Page[] = []
    for (let i = 0; i < 4; i++) tabs.push(await openTab(`storage=${storage}`))
    await login(tabs[0]!)
    await expect.poll(() => Promise.all(tabs.map(session)), { timeout: 2_000 }).not.toContain(null)
    for (let round = 0; round < 20; round++) {
      // Every tab asks for a refresh at the same moment: a shared instant on the wall clock, so
      // none of them has heard of another's result yet. Each waits for it spinning, not on a timer:
      // Firefox delays a background tab's timers by up to a second.
      const at = Date.now() + 100
      await Promise.all(
        tabs.map((tab) =>
          tab.evaluate((when) => {
            while (Date.now() < when);
            return window.auth.refresh().then(() => undefined)
          }, at),
        ),
      )
    }
    expect(suite.server.stats.reuseDetected).toBe(0)
    expect(suite.server.stats.refresh).toBe(20)
    const statuses = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.auth.fetch('/api/me').then((r) => r.status))))
    expect(statuses).toEqual([200, 200, 200, 200])
  }, 60_000)

  it('logout in one tab logs out all 4 within a second, and none of them sends the token afterwards', async () => {
    const tabs: Page[] = []
    for (let i = 0; i < 4; i++) tabs.push(await openTab())
    await login(tabs[0]!)
    await expect.poll(() => Promise.all(tabs.map(session)), { timeout: 2_000 }).not.toContain(null)
    // Timed in the pages, on the wall clock they share, so a slow test runner does not count.
    const started = await tabs[2]!.evaluate(() => {
      const at = Date.now()
      return window.auth.logout().then(() => at)
    })
    await expect.poll(() => Promise.all(tabs.map(session)), { timeout: 5_000, interval: 20 }).toEqual([null, null, null, null])
    const loggedOutAt = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.events.filter((e) => e.type === 'logout').at(-1)?.at ?? Infinity)))
    expect(Math.max(...loggedOutAt) - started).toBeLessThan(1_000)
    const before = suite.server.stats.apiWithToken
    const statuses = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.auth.fetch('/api/me').then((r) => r.status))))
    expect(statuses).toEqual([401, 401, 401, 401])
    expect(suite.server.stats.apiWithToken).toBe(before)
  }, 30_000)

  it.each(['memory', 'local'])('log in, log out, open a second tab, log in there (%s storage): the first tab follows, and both stay logged in across silent refreshes', async (storage) => {
    // The demo's sequence that lost the session: the second tab's login was "older" than the
    // first tab's logout, so the first ignored it and then logged the second out at its refresh.
    suite.server.setLifetime(4)
    const first = await openTab(`storage=${storage}&refreshMarginMs=2000`)
    await login(first)
    await first.evaluate(() => window.auth.logout())
    const second = await openTab(`storage=${storage}&refreshMarginMs=2000`)
    const token = await login(second)
    await expect.poll(() => session(first), { timeout: 2_000 }).toBe(token)
    // Past two silent refreshes (every ~2 s). A read may fall between the leader storing a token and
    // the other tab hearing of it, so the two are polled until they agree.
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    await expect
      .poll(async () => {
        const [a, b] = await Promise.all([session(first), session(second)])
        return a !== null && a === b && a !== token
      }, { timeout: 5_000 })
      .toBe(true)
    const ended = await Promise.all(
      [first, second].map((tab) => tab.evaluate(() => window.events.filter((e) => e.type === 'logout' || e.type === 'session-expired').length)),
    )
    expect(ended).toEqual([1, 0]) // the first tab's own logout only
    expect(suite.server.stats.reuseDetected).toBe(0)
  }, 30_000)

  it.each(['memory', 'local'])('a tab that leaves the app and comes back with Back, after the others logged out, logged in again and refreshed twice (%s storage), holds the current session and reuses no token', async (storage) => {
    // A page restored from the back/forward cache would bring back its old session and its spent
    // refresh token, having missed every message meanwhile. Firefox 153 caches a plain page, and one
    // with an open BroadcastChannel, but not one that holds or waits for a Web Lock, as every tab
    // of ours does (the leader's lock); Chromium under automation caches nothing. So the page comes
    // back fresh in both; this pins that the result is right whichever way it comes back.
    const away = await openTab(`storage=${storage}`)
    const other = await openTab(`storage=${storage}`)
    const url = await away.evaluate(() => location.href)
    await login(away)
    await expect.poll(() => session(other), { timeout: 2_000 }).not.toBeNull()
    await away.goto(`${suite.server.url}/dist/index.js`) // any other page
    await other.evaluate(() => window.auth.logout())
    const token = await login(other)
    await other.evaluate(() => window.auth.refresh())
    await other.evaluate(() => window.auth.refresh())
    await goBackTo(away, url)
    await expect.poll(() => session(away), { timeout: 2_000 }).toBe(await session(other))
    expect(await session(away)).not.toBe(token)
    await away.evaluate(() => window.auth.refresh())
    await expect.poll(() => session(other), { timeout: 2_000 }).toBe(await session(away))
    expect(suite.server.stats.reuseDetected).toBe(0)
    const statuses = await Promise.all([away, other].map((tab) => tab.evaluate(() => window.auth.fetch('/api/me').then((r) => r.status))))
    expect(statuses).toEqual([200, 200])
  }, 30_000)

  it('a tab opened after login, with memory storage, is logged in without a request to the server', async () => {
    const first = await openTab()
    const token = await login(first)
    const requests = { ...suite.server.stats }
    const late = await openTab()
    expect(await session(late)).toBe(token)
    expect(suite.server.stats).toEqual(requests)
  }, 30_000)

  it('a frozen tab holding the lock stalls the others no longer than the timeout', async () => {
    const leader = await openTab('lockTimeoutMs=1000')
    const follower = await openTab('lockTimeoutMs=1000')
    await login(leader)
    await expect.poll(() => session(follower), { timeout: 2_000 }).not.toBeNull()
    // Freeze the leader for 5 s: its main thread is kept busy, so none of its JavaScript runs while
    // it keeps holding the Web Lock. (Neither engine lifecycle-freezes a page on request; the busy
    // loop does the same in both, where Chromium's debugger pause would work in Chromium only.)
    // The leader says so just before its loop starts, so the follower's timing starts inside the
    // freeze however late a loaded machine runs the leader's script.
    await follower.evaluate(() => {
      const channel = new BroadcastChannel('test-freeze')
      ;(window as unknown as { freezing: Promise<unknown> }).freezing = new Promise((resolve) => (channel.onmessage = resolve))
    })
    const frozen = leader.evaluate(() => {
      new BroadcastChannel('test-freeze').postMessage('now')
      const until = Date.now() + 5_000
      while (Date.now() < until);
    })
    const waited = await follower.evaluate(async () => {
      await (window as unknown as { freezing: Promise<unknown> }).freezing
      const started = performance.now()
      await window.auth.refresh()
      return performance.now() - started
    })
    expect(waited).toBeGreaterThanOrEqual(900)
    expect(waited).toBeLessThan(1_000 + 2_500) // well before the thaw
    expect(suite.server.stats.refresh).toBe(1)
    await frozen
    // Thawed, the old leader catches up instead of refreshing with a used token.
    await expect.poll(() => session(leader), { timeout: 5_000 }).toBe(await session(follower))
    await follower.evaluate(() => window.auth.refresh())
    await leader.evaluate(() => window.auth.refresh())
    expect(suite.server.stats.reuseDetected).toBe(0)
  }, 30_000)

  it('in a sandboxed frame, where the browser refuses Web Locks, the client logs in and refreshes instead of hanging', async () => {
    const page = await openTab() // secure (loopback), so the frame is a secure context that has navigator.locks
    const result = await page.evaluate(async (origin) => {
      const frame = document.createElement('iframe')
      frame.sandbox.add('allow-scripts') // no allow-same-origin: an opaque origin
      frame.srcdoc = `<script type="importmap">{ "imports": { "jwt-decode": "${origin}/node_modules/jwt-decode/build/esm/index.js" } }</script>
        <script type="module">
          import { createAuthClient } from '${origin}/dist/index.js'
          try {
            const auth = createAuthClient({ baseUrl: '${origin}' })
            await auth.ready
            const first = await auth.login({ username: 'ada', password: 'lovelace' })
            const second = await auth.refresh()
            const locks = await navigator.locks.request('probe', () => 'granted').catch((error) => error.name)
            parent.postMessage({ origin: location.origin, locks, refreshed: second.accessToken !== first.accessToken }, '*')
          } catch (error) {
            parent.postMessage({ error: String(error) }, '*')
          }
        </script>`
      const answer = new Promise((resolve) => addEventListener('message', (event) => resolve(event.data), { once: true }))
      document.body.append(frame)
      return answer
    }, suite.server.url)
    expect(result).toEqual({ origin: 'null', locks: 'SecurityError', refreshed: true })
    expect(suite.server.stats.refresh).toBe(1)
  }, 30_000)

  it('a tab closed while leading hands over at once', async () => {
    const leader = await openTab('lockTimeoutMs=5000')
    const follower = await openTab('lockTimeoutMs=5000')
    await login(leader)
    await expect.poll(() => session(follower), { timeout: 2_000 }).not.toBeNull()
    await leader.close()
    const waited = await follower.evaluate(async () => {
      const started = performance.now()
      await window.auth.refresh()
      return performance.now() - started
    })
    expect(waited).toBeLessThan(3_500) // a follower left waiting for the closed leader would wait 5 s
    expect(suite.server.stats.refresh).toBe(1)
    expect(suite.server.stats.reuseDetected).toBe(0)
  }, 30_000)
})
