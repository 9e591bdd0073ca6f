// @vitest-environment node
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildReactExample } from '../../examples/react/build.mjs'
import { startDemoProvider } from '../../examples/oidc-provider/provider.mjs'
import { startDemoServer } from '../../examples/server/server.mjs'
import type { TestBrowser } from './engines/index.js'
import { countOf, describeInEngines, isVisible, root, textOf, waitForVisible, waitUntil, type TestPage as Page } from './harness.js'

const screenshots = join(root, 'test-results')

describeInEngines('the demo, end to end,', (engine) => {
  let server: Awaited<ReturnType<typeof startDemoServer>>
  let provider: Awaited<ReturnType<typeof startDemoProvider>> | undefined
  let browser: TestBrowser

  beforeAll(async () => {
    await buildReactExample()
    // 4-second tokens: a silent refresh every 2 s, so two happen within the test.
    server = await startDemoServer({ accessTokenLifetimeSec: 4, oidcIssuer: () => provider?.issuer })
    provider = await startDemoProvider({ port: 0, appOrigin: server.url, accessTokenLifetimeSec: 4 })
    browser = await engine.launch()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await provider?.close()
    await server?.close()
  })

  const open = async (page: Page, path = '/') => {
    await page.goto(`${server.url}${path}`)
    await waitUntil(page, () => document.querySelector('body[data-ready="true"], #root h1') !== null)
  }
  /** Types ada's password into the demo's form (the username is filled in) and waits for the session panel. */
  const logInThroughForm = async (page: Page) => {
    await page.fill('input[name="password"]', 'lovelace')
    await page.click('#login-form button[type="submit"]')
    await waitForVisible(page, '#session-panel')
  }
  const refreshes = (page: Page) => countOf(page, '#event-log li[data-type="refresh"]')

  it('logs in through the form, calls the API across two silent refreshes, and logs out in every tab', async () => {
    const context = await browser.newContext()
    const first = await context.newPage()
    await open(first)
    expect(await isVisible(first, '#login-panel')).toBe(true)

    await logInThroughForm(first)
    expect(await textOf(first, '#user-name')).toBe('Ada Lovelace')

    const statuses: string[] = []
    for (let round = 0; round < 3; round++) {
      // The page writes each answer over the last one: clear it, so the poll waits for this one.
      await first.evaluate(() => void (document.getElementById('api-result')!.textContent = ''))
      await first.click('#call-api')
      await expect.poll(() => textOf(first, '#api-result'), { timeout: 5_000 }).toMatch(/^\d{3} /)
      statuses.push((await textOf(first, '#api-result'))!.slice(0, 3))
      if (round < 2) await expect.poll(() => refreshes(first), { timeout: 5_000 }).toBeGreaterThan(round)
    }
    expect(statuses).toEqual(['200', '200', '200'])
    expect(server.stats.refresh).toBeGreaterThanOrEqual(2)
    expect(server.stats.unauthorized).toBe(0)

    mkdirSync(screenshots, { recursive: true })
    await first.screenshot(join(screenshots, `demo-logged-in-${engine.name.toLowerCase()}.png`))

    const second = await context.newPage()
    await open(second)
    await waitForVisible(second, '#session-panel')
    expect(await textOf(second, '#user-name')).toBe('Ada Lovelace')

    const react = await context.newPage()
    await react.goto(`${server.url}/react/`)
    await expect.poll(() => textOf(react, 'h2'), { timeout: 10_000 }).toBe('Logged in as Ada Lovelace')

    await second.click('#logout')
    await waitForVisible(first, '#login-panel', 2_000)
    await expect.poll(() => textOf(react, 'h2'), { timeout: 2_000 }).toBe('Log in')
    const lastEvent = await textOf(first, '#event-log li')
    expect(lastEvent).toContain('logout')
    expect(lastEvent).toContain('in another tab')
    expect([...first.errors, ...second.errors, ...react.errors]).toEqual([])
    await context.close()
  }, 60_000)

  it('log in as ada, log out, open a second tab, log in there: the first tab follows, and both stay logged in across silent refreshes', async () => {
    // The sequence from the issue that lost the session: the first tab ignored the newer login,
    // then logged the second out at its first silent refresh ("logout in another tab").
    const context = await browser.newContext()
    const first = await context.newPage()
    await open(first)
    await logInThroughForm(first)
    await first.click('#logout')
    await waitForVisible(first, '#login-panel')
    const second = await context.newPage()
    await open(second)
    await logInThroughForm(second)
    await waitForVisible(first, '#session-panel', 2_000)
    // 4-second tokens: past two silent refreshes.
    await expect.poll(() => refreshes(second), { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
    expect(await isVisible(first, '#session-panel')).toBe(true)
    expect(await isVisible(second, '#session-panel')).toBe(true)
    expect(await countOf(second, '#event-log li[data-type="logout"], #event-log li[data-type="session-expired"]')).toBe(0)
    await context.close()
  }, 30_000)

  it('keeps the session across a reload with the HttpOnly refresh cookie, tokens in memory only', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await open(page)
    await logInThroughForm(page)
    const cookies = await context.cookies()
    expect(cookies).toEqual([expect.objectContaining({ name: '__Host-tokenkeeper-refresh', httpOnly: true, secure: true, sameSite: 'Strict' })])
    expect(await page.evaluate(() => document.cookie)).toBe('')
    expect(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage))).toBe('{}{}')
    await page.reload()
    await waitUntil(page, () => document.querySelector('body[data-ready="true"]') !== null)
    expect(await isVisible(page, '#session-panel')).toBe(true)
    await context.close()
  }, 30_000)

  /**
   * Waits for `selector` on whatever page the tab is on, across the redirects between app and
   * provider; with `withText`, for it to say something too (an element a page always has, empty
   * until something happens, is there before the page that fills it has come).
   */
  const arriveAt = async (page: Page, selector: string, withText = false) => {
    const until = Date.now() + 15_000
    const arrived = ([s, text]: [string, boolean]) => {
      const element = document.querySelector(s)
      return document.readyState === 'complete' && element?.checkVisibility() === true && (!text || !!element.textContent?.trim())
    }
    while (!(await page.evaluate(arrived, [selector, withText] as [string, boolean]).catch(() => false))) {
      if (Date.now() > until) throw new Error(`${selector} never showed (at ${await page.evaluate(() => location.href).catch(() => '?')})`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  it("the OpenID page: logs in at the provider's form, refreshes, logs out there too, and a cancelled login says login_refused", async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await open(page, '/oidc/')
    await arriveAt(page, '#login-panel')
    await page.click('#login')
    await arriveAt(page, '#login-form')
    expect(await page.evaluate(() => location.origin)).toBe(new URL(provider!.issuer).origin)
    await page.fill('input[name="username"]', 'ada')
    await page.fill('input[name="password"]', 'wrong')
    await page.click('#login-form #login')
    await arriveAt(page, '#login-error', true) // the provider's form has it from the start, empty
    await page.fill('input[name="password"]', 'lovelace')
    await page.click('#login-form #login')
    await arriveAt(page, '#session-panel')
    expect(await textOf(page, '#claim-name')).toBe('Ada Lovelace')
    expect(await textOf(page, '#claim-email')).toBe('ada@example.com')
    expect(await page.evaluate(() => location.search)).toBe('')
    await expect.poll(() => countOf(page, '#event-log li[data-type="refresh"]'), { timeout: 10_000 }).toBeGreaterThanOrEqual(1)

    await page.click('#logout')
    await arriveAt(page, '#login-panel')
    await expect.poll(() => countOf(page, '#event-log li[data-type="provider-logout"]'), { timeout: 10_000 }).toBe(1)
    // The provider's session ended with ours: the next login asks for the password again; cancel it.
    await page.click('#login')
    await arriveAt(page, '#login-form')
    await page.click('#cancel')
    await arriveAt(page, '#login-panel')
    await expect.poll(() => textOf(page, '#login-message'), { timeout: 10_000 }).toContain('login_refused')
    expect(page.errors).toEqual([])
    await context.close()
  }, 60_000)

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
