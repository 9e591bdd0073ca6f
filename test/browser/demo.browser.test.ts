// @vitest-environment node
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildReactExample } from '../../examples/react/build.mjs'
import { startDemoServer } from '../../examples/server/server.mjs'
import { hasChromium, launchChromium } from './chromium.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const screenshots = join(root, 'test-results')

describe.skipIf(!hasChromium)('the demo, end to end in Chromium', () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>
  let browser: Browser

  beforeAll(async () => {
    await buildReactExample()
    // 4-second tokens: a silent refresh every 2 s, so two happen within the test.
    server = await startDemoServer({ accessTokenLifetimeSec: 4 })
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = async (page: Page, path = '/') => {
    await page.goto(`${server.url}${path}`)
    await page.waitForSelector('body[data-ready="true"], #root h1', { timeout: 10_000 })
  }
  const refreshes = (page: Page) => page.locator('#event-log li[data-type="refresh"]').count()

  it('logs in through the form, calls the API across two silent refreshes, and logs out in every tab', async () => {
    const context = await browser.newContext()
    const first = await context.newPage()
    const pageErrors: string[] = []
    first.on('pageerror', (error) => pageErrors.push(error.message))
    await open(first)
    expect(await first.locator('#login-panel').isVisible()).toBe(true)

    await first.fill('input[name="password"]', 'lovelace')
    await first.click('#login-form button[type="submit"]')
    await first.locator('#session-panel').waitFor({ state: 'visible' })
    expect(await first.textContent('#user-name')).toBe('Ada Lovelace')

    const statuses: string[] = []
    for (let round = 0; round < 3; round++) {
      await first.click('#call-api')
      await expect.poll(() => first.textContent('#api-result')).toMatch(/^\d{3} /)
      statuses.push((await first.textContent('#api-result'))!.slice(0, 3))
      if (round < 2) await expect.poll(() => refreshes(first), { timeout: 5_000 }).toBeGreaterThan(round)
    }
    expect(statuses).toEqual(['200', '200', '200'])
    expect(server.stats.refresh).toBeGreaterThanOrEqual(2)
    expect(server.stats.unauthorized).toBe(0)

    mkdirSync(screenshots, { recursive: true })
    await first.screenshot({ path: join(screenshots, 'demo-logged-in.png'), fullPage: true })

    const second = await context.newPage()
    await open(second)
    await second.locator('#session-panel').waitFor({ state: 'visible' })
    expect(await second.textContent('#user-name')).toBe('Ada Lovelace')

    const react = await context.newPage()
    await react.goto(`${server.url}/react/`)
    await expect.poll(() => react.textContent('h2'), { timeout: 10_000 }).toBe('Logged in as Ada Lovelace')

    await second.click('#logout')
    await first.locator('#login-panel').waitFor({ state: 'visible', timeout: 2_000 })
    await expect.poll(() => react.textContent('h2'), { timeout: 2_000 }).toBe('Log in')
    const lastEvent = await first.locator('#event-log li').first().textContent()
    expect(lastEvent).toContain('logout')
    expect(lastEvent).toContain('in another tab')
    expect(pageErrors).toEqual([])
    await context.close()
  }, 60_000)

  it('log in as ada, log out, open a second tab, log in there: the first tab follows, and both stay logged in across silent refreshes', async () => {
    // The sequence from the issue that lost the session: the first tab ignored the newer login,
    // then logged the second out at its first silent refresh ("logout in another tab").
    const context = await browser.newContext()
    const first = await context.newPage()
    await open(first)
    await first.fill('input[name="password"]', 'lovelace')
    await first.click('#login-form button[type="submit"]')
    await first.locator('#session-panel').waitFor({ state: 'visible' })
    await first.click('#logout')
    await first.locator('#login-panel').waitFor({ state: 'visible' })
    const second = await context.newPage()
    await open(second)
    await second.fill('input[name="password"]', 'lovelace')
    await second.click('#login-form button[type="submit"]')
    await second.locator('#session-panel').waitFor({ state: 'visible' })
    await first.locator('#session-panel').waitFor({ state: 'visible', timeout: 2_000 })
    // 4-second tokens: past two silent refreshes.
    await expect.poll(() => refreshes(second), { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
    expect(await first.locator('#session-panel').isVisible()).toBe(true)
    expect(await second.locator('#session-panel').isVisible()).toBe(true)
    expect(await second.locator('#event-log li[data-type="logout"], #event-log li[data-type="session-expired"]').count()).toBe(0)
    await context.close()
  }, 30_000)

  it('keeps the session across a reload with the HttpOnly refresh cookie, tokens in memory only', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await open(page)
    await page.fill('input[name="password"]', 'lovelace')
    await page.click('#login-form button[type="submit"]')
    await page.locator('#session-panel').waitFor({ state: 'visible' })
    const cookies = await context.cookies()
    expect(cookies).toEqual([expect.objectContaining({ name: '__Host-tokenkeeper-refresh', httpOnly: true, secure: true, sameSite: 'Strict' })])
    expect(await page.evaluate(() => document.cookie)).toBe('')
    expect(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage))).toBe('{}{}')
    await page.reload()
    await page.waitForSelector('body[data-ready="true"]')
    expect(await page.locator('#session-panel').isVisible()).toBe(true)
    await context.close()
  }, 30_000)

  it('answers bad requests with clear 4xx JSON errors and survives them', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(`${server.url}${path}`, { method: 'POST', headers, body })
    const cases = [
      [await post('/auth/login', '{not json'), 400],
      [await post('/auth/login', '[]'), 400],
      [await post('/auth/login', JSON.stringify({ username: 1, password: [] })), 400],
      [await post('/auth/login', JSON.stringify({ username: 'ada', password: 'wrong' })), 401],
      [await post('/auth/login', 'username=ada', { 'content-type': 'application/x-www-form-urlencoded' }), 415],
      [await post('/auth/login', JSON.stringify({ username: 'x'.repeat(20_000) })), 413],
      [await post('/auth/refresh', '{}'), 401],
      [await post('/auth/login', '{}', { 'content-type': 'application/json', origin: 'https://evil.example' }), 403],
      [await fetch(`${server.url}/auth/login`), 405],
      [await fetch(`${server.url}/nope`), 404],
      [await fetch(`${server.url}/api/me`, { headers: { authorization: 'Bearer a.b.c' } }), 401],
      [await fetch(`${server.url}/dist/../package.json`), 404],
    ] as const
    for (const [response, status] of cases) {
      expect(response.status).toBe(status)
      expect(response.headers.get('content-type')).toContain('application/json')
      expect(await response.json()).toMatchObject({ error: expect.any(String) })
    }
    expect((await fetch(`${server.url}/api/config`)).status).toBe(200)
  })
})
