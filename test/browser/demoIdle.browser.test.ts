// @vitest-environment node
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startDemoServer } from '../../examples/server/server.mjs'
import type { TestBrowser } from './engines/index.js'
import { describeInEngines, isVisible, textOf, waitForVisible, waitUntil, type TestPage as Page } from './harness.js'

describeInEngines('the demo with a short idle timeout,', (engine) => {
  let server: Awaited<ReturnType<typeof startDemoServer>>
  let browser: TestBrowser

  beforeAll(async () => {
    // 10 s with no activity ends the session; the page warns 5 s before (half the timeout).
    server = await startDemoServer({ idleTimeoutSec: 10, accessTokenLifetimeSec: 6 })
    browser = await engine.launch()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = async (page: Page) => {
    await page.goto(`${server.url}/`)
    await waitUntil(page, () => document.querySelector('body[data-ready="true"]') !== null)
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('activity in one tab keeps both alive; then "still there?" shows in both, its button puts the end off, and with no answer both tabs end with the idle message', async () => {
    const context = await browser.newContext()
    const [first, second] = [await context.newPage(), await context.newPage()]
    await open(first)
    await open(second)
    await first.fill('input[name="password"]', 'lovelace')
    await first.click('#login-form button[type="submit"]')
    await waitForVisible(first, '#session-panel')
    await waitForVisible(second, '#session-panel')

    // The user works in the second tab only, for longer than the idle timeout.
    for (let elapsed = 0; elapsed < 14_000; elapsed += 1_500) {
      await second.click('#claims')
      await sleep(1_500)
      expect(await isVisible(first, '#idle-warning')).toBe(false)
    }
    expect(await isVisible(first, '#session-panel')).toBe(true)

    // Nobody does anything: the warning comes in both tabs, with its countdown.
    await waitForVisible(first, '#idle-warning', 10_000)
    await waitForVisible(second, '#idle-warning', 2_000)
    await expect.poll(() => textOf(first, '#idle-countdown'), { timeout: 2_000 }).toMatch(/^\d s$/)
    // Clicked without a pointer: a pointer moving to the button is activity already, and puts the
    // end off by itself (Chromium's click moves it over the page first).
    await first.evaluate(() => document.getElementById('stay')!.click())
    await waitUntil(first, () => document.getElementById('idle-warning')!.hidden, undefined, 2_000)
    await waitUntil(second, () => document.getElementById('idle-warning')!.hidden, undefined, 2_000)

    // No answer this time: both tabs end, and say why.
    await waitForVisible(first, '#idle-warning', 10_000)
    await waitForVisible(first, '#login-panel', 10_000)
    await waitForVisible(second, '#login-panel', 2_000)
    for (const page of [first, second]) {
      expect(await textOf(page, '#login-error')).toContain('no activity')
      expect(await isVisible(page, '#idle-warning')).toBe(false)
    }
    expect(await textOf(first, '#event-log li[data-type="session-expired"]')).toContain('idle')
    // The revocation goes out after the tabs are told: it reaches the server a round trip later.
    await expect.poll(() => server.stats.logout, { timeout: 5_000 }).toBeGreaterThanOrEqual(1)
    expect([...first.errors, ...second.errors]).toEqual([])
    await context.close()
  }, 90_000)

  it('the debug-log switch loads the development build, whose lines show the session life in the event log, with no token or password', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await open(page)
    await page.click('#debug-switch') // the page reloads with the development build
    await waitUntil(page, () => document.querySelector('body[data-ready="true"]') !== null && (document.getElementById('debug-switch') as HTMLInputElement).checked)
    await page.fill('input[name="password"]', 'lovelace')
    await page.click('#login-form button[type="submit"]')
    await waitForVisible(page, '#session-panel')
    // 6-second tokens: a silent refresh within 4 s.
    await expect.poll(() => page.evaluate(() => document.getElementById('event-log')!.textContent), { timeout: 10_000 }).toContain('refresh done')
    const log = (await page.evaluate(() => [...document.querySelectorAll('#event-log li[data-type="debug"]')].map((item) => item.textContent)))
    expect(log.some((line) => line!.includes('session: login'))).toBe(true)
    expect(log.some((line) => line!.includes('refresh scheduled'))).toBe(true)
    // No JWT (they start eyJ), no password, in any line of the page's log.
    expect(await page.evaluate(() => document.getElementById('event-log')!.textContent)).not.toMatch(/eyJ|lovelace/)
    await page.click('#debug-switch')
    await waitUntil(page, () => document.querySelector('body[data-ready="true"]') !== null && !(document.getElementById('debug-switch') as HTMLInputElement).checked)
    expect(page.errors).toEqual([])
    await context.close()
  }, 60_000)
})
