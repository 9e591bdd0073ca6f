import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { startTestAuthServer, type TestAuthServer } from './authServer.js'
import { launchChromium } from './chromium.js'

declare global {
  interface Window {
    auth: import('../../src/index.js').AuthClient
    events: { type: string; at: number; code?: string }[]
    tokenkeeperReady: Promise<unknown>
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/** What a browser suite gets: the test auth server (which also serves the page) and Chromium. */
export interface BrowserSuite {
  server: TestAuthServer
  browser: Browser
}

/** Starts the test auth server and Chromium before the calling suite, and stops both after it. */
export function useBrowserSuite(): BrowserSuite {
  const suite = {} as BrowserSuite
  beforeAll(async () => {
    suite.server = await startTestAuthServer(root)
    suite.browser = await launchChromium()
  }, 30_000)
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
export function useContextPerTest(suite: BrowserSuite): () => BrowserContext {
  let context: BrowserContext
  beforeEach(async () => {
    context = await suite.browser.newContext()
    suite.server.resetStats()
    suite.server.setLifetime(60)
  })
  afterEach(() => context.close())
  return () => context
}

/** Opens the test page (test/browser/page.html, options from `query`) and waits for `auth.ready`. */
export async function openTestPage(page: Page, server: TestAuthServer, query = '', host = '127.0.0.1'): Promise<Page> {
  await page.goto(`${server.url.replace('127.0.0.1', host)}/?${query}`)
  await page.waitForFunction(() => window.auth !== undefined)
  await page.evaluate(() => window.tokenkeeperReady)
  return page
}
