import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { startTestAuthServer, type TestAuthServer } from './authServer.js'
import type { Engine, TestBrowser, TestContext, TestPage } from './engines/index.js'

export { describeInEngines, type Engine, type TestPage } from './engines/index.js'

declare global {
  interface Window {
    auth: import('../../src/index.js').AuthClient
    events: { type: string; at: number; code?: string }[]
    tokenkeeperReady: Promise<unknown>
  }
}

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** What a browser suite gets: the test auth server (which also serves the page) and the browser. */
export interface BrowserSuite {
  server: TestAuthServer
  browser: TestBrowser
}

/** Starts the test auth server and the engine's browser before the calling suite, and stops both after it. */
export function useBrowserSuite(engine: Engine): BrowserSuite {
  const suite = {} as BrowserSuite
  beforeAll(async () => {
    suite.server = await startTestAuthServer(root)
    suite.browser = await engine.launch()
  }, 60_000)
  afterAll(async () => {
    await suite.browser?.close()
    await suite.server?.close()
  })
  return suite
}

/**
 * A fresh browser context (its own storage, cookies and locks) for each test of the calling suite,
 * with the server's counters reset and its tokens back to a 60-second lifetime.
 */
export function useContextPerTest(suite: BrowserSuite): () => TestContext {
  let context: TestContext
  beforeEach(async () => {
    context = await suite.browser.newContext()
    suite.server.resetStats()
    suite.server.setLifetime(60)
  })
  afterEach(() => context.close())
  return () => context
}

/**
 * Waits until `fn` returns something truthy (and serialisable: not a DOM node) in the page. It asks from outside, one `evaluate` every
 * 50 ms, rather than polling inside the page: a background tab's timers and animation frames are
 * throttled or stopped in Firefox, so polling there would measure the throttling.
 */
export async function waitUntil<A>(page: TestPage, fn: (arg: A) => unknown, arg?: A, timeout = 10_000): Promise<void> {
  const until = Date.now() + timeout
  while (!(await page.evaluate(fn as (arg: A | undefined) => unknown, arg))) {
    if (Date.now() > until) throw new Error(`waited ${timeout} ms for ${String(fn)}${arg === undefined ? '' : ` with ${JSON.stringify(arg)}`}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Runs in the page: whether an element matching `selector` is there and rendered visible. */
const visible = (selector: string): boolean => document.querySelector(selector)?.checkVisibility() ?? false

/** Whether an element matching `selector` is on the page and rendered visible. */
export const isVisible = (page: TestPage, selector: string): Promise<boolean> => page.evaluate(visible, selector)

/** Waits until an element matching `selector` is visible. */
export const waitForVisible = (page: TestPage, selector: string, timeout?: number): Promise<void> => waitUntil(page, visible, selector, timeout)

/** The text of the first element matching `selector`, or null when there is none. */
export const textOf = (page: TestPage, selector: string): Promise<string | null> =>
  page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector)

/** How many elements match `selector`. */
export const countOf = (page: TestPage, selector: string): Promise<number> =>
  page.evaluate((s) => document.querySelectorAll(s).length, selector)

/** Opens the test page (test/browser/page.html, options from `query`) and waits for `auth.ready`. */
export async function openTestPage(page: TestPage, server: TestAuthServer, query = '', host = '127.0.0.1'): Promise<TestPage> {
  await page.goto(`${server.url.replace('127.0.0.1', host)}/?${query}`)
  await waitUntil(page, () => window.auth !== undefined)
  await page.evaluate(() => window.tokenkeeperReady)
  return page
}

/**
 * The browser's Back button, back to the test page at `url`, then waits for `auth.ready`. A page
 * restored from the back/forward cache fires no load event for the drivers to wait on, so this
 * asks from outside until the page is there (calls made mid-navigation fail, and are asked again).
 */
export async function goBackTo(page: TestPage, url: string): Promise<void> {
  await page.evaluate(() => void setTimeout(() => history.back()))
  const until = Date.now() + 10_000
  const arrived = (href: string) => document.readyState === 'complete' && location.href === href && window.auth !== undefined
  while (!(await page.evaluate(arrived, url).catch(() => false))) {
    if (Date.now() > until) throw new Error(`Back did not return to ${url} within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await page.evaluate(() => window.tokenkeeperReady)
}

/** Reloads the test page and waits for `auth.ready` again. */
export async function reloadTestPage(page: TestPage): Promise<void> {
  await page.reload()
  await waitUntil(page, () => window.auth !== undefined)
  await page.evaluate(() => window.tokenkeeperReady)
}
