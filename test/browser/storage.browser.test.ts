// @vitest-environment node
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { hasChromium } from './chromium.js'
import { openTestPage, useBrowserSuite, useContextPerTest } from './harness.js'

// What only a browser can tell: whether the cookie and web storages really keep a session across a
// reload, with the attributes promised, and forget it at logout.
describe.skipIf(!hasChromium)('built-in storages in real Chromium', () => {
  const suite = useBrowserSuite()
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

    await page.reload()
    await page.evaluate(() => window.tokenkeeperReady)
    expect(await session(page)).toBe(token)
    expect(suite.server.stats.refresh).toBe(0)

    await page.evaluate(() => window.auth.logout())
    expect(await context().cookies()).toEqual([])
    await page.reload()
    await page.evaluate(() => window.tokenkeeperReady)
    expect(await session(page)).toBeNull()
  }, 30_000)

  it.each([
    ['local', 'localStorage'],
    ['session', 'sessionStorage'],
  ])('webStorage(%s) keeps the session across a reload and removes it at logout', async (kind, name) => {
    const page = await context().newPage()
    await open(page, kind)
    const token = await page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }).then((s) => s.accessToken))
    await page.reload()
    await page.evaluate(() => window.tokenkeeperReady)
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
    await page.reload()
    await page.evaluate(() => window.tokenkeeperReady)
    expect(await session(page)).toBeNull()
  }, 30_000)
})
