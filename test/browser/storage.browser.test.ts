// @vitest-environment node
import { expect, it } from 'vitest'
import { describeInEngines, openTestPage, reloadTestPage, useBrowserSuite, useContextPerTest, type TestPage as Page } from './harness.js'

// What only a browser can tell: whether the cookie and web storages really keep a session across a
// reload, with the attributes promised, and forget it at logout.
describeInEngines('built-in storages', (engine) => {
  const suite = useBrowserSuite(engine)
  const context = useContextPerTest(suite)

  const open = (page: Page, storage: string, host?: string) => openTestPage(page, suite.server, `crossTab=false&storage=${storage}`, host)
  const session = (page: Page) => page.evaluate(() => window.auth.getSession()?.accessToken ?? null)

  it.each(['127.0.0.1', 'localhost'])('cookieStorage on http://%s: a __Host- cookie, Secure, SameSite=Strict, Path=/, that survives a reload', async (host) => {
    const page = await context().newPage()
    await open(page, 'cookie', host)
    const token = await page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }).then((s) => s.accessToken))
    await expect.poll(() => context().cookies()).toHaveLength(1)
    const [cookie] = await context().cookies()
    expect(cookie).toMatchObject({ name: '__Host-tokenkeeper.session', path: '/', secure: true, sameSite: 'Strict', httpOnly: false })
    expect(cookie!.expires).toBe(-1) // a session cookie by default

    await reloadTestPage(page)
    expect(await session(page)).toBe(token)
    expect(suite.server.stats.refresh).toBe(0)

    await page.evaluate(() => window.auth.logout())
    await expect.poll(() => context().cookies()).toEqual([]) // document.cookie reaches the cookie store asynchronously
    await reloadTestPage(page)
    expect(await session(page)).toBeNull()
  }, 30_000)

  it.each([
    ['local', 'localStorage'],
    ['session', 'sessionStorage'],
  ])('webStorage(%s) keeps the session across a reload and removes it at logout', async (kind, name) => {
    const page = await context().newPage()
    await open(page, kind)
    const token = await page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }).then((s) => s.accessToken))
    await reloadTestPage(page)
    expect(await session(page)).toBe(token)
    await page.evaluate(() => window.auth.logout())
    expect(await page.evaluate((store) => (window as unknown as Record<string, Storage>)[store]!.getItem('tokenkeeper.session'), name)).toBeNull()
  }, 30_000)

  it('memory storage keeps nothing: after a reload the tab is logged out, and nothing was written anywhere', async () => {
    const page = await context().newPage()
    await open(page, 'memory')
    await page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }))
    const written = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }))
    expect(written).toEqual({ local: 0, session: 0, cookie: '' })
    await reloadTestPage(page)
    expect(await session(page)).toBeNull()
  }, 30_000)
})
