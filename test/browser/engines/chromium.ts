import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { Engine, TestContext, TestPage } from './types.js'

/** Debian's Chromium, driven by playwright-core over the DevTools protocol. */
export const chromiumEngine: Engine = {
  name: 'Chromium',
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  install: 'apt-get update && apt-get install -y chromium',
  async launch() {
    const browser = await chromium.launch({
      executablePath: this.executablePath,
      // Headless, and kept off the network this machine does not have.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
      ],
    })
    return {
      newContext: async () => contextOf(await browser.newContext()),
      close: () => browser.close(),
    }
  },
}

function contextOf(context: BrowserContext): TestContext {
  return {
    newPage: async () => pageOf(await context.newPage()),
    cookies: () => context.cookies(),
    close: () => context.close(),
  }
}

function pageOf(page: Page): TestPage {
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  return {
    errors,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    close: () => page.close(),
    evaluate: ((fn: string | ((arg: unknown) => unknown), arg?: unknown) => page.evaluate(fn, arg)) as TestPage['evaluate'],
    fill: (selector, value) => page.fill(selector, value),
    click: (selector) => page.click(selector),
    screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
  }
}
