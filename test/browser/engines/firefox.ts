import puppeteer, { type BrowserContext, type Page } from 'puppeteer-core'
import type { Engine, TestContext, TestPage } from './types.js'

/**
 * Debian's Firefox ESR, driven by puppeteer-core over WebDriver BiDi (playwright drives only its
 * own patched Firefox builds).
 */
export const firefoxEngine: Engine = {
  name: 'Firefox',
  executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
  install: 'apt-get update && apt-get install -y firefox-esr',
  async launch() {
    const browser = await puppeteer.launch({ browser: 'firefox', executablePath: this.executablePath, headless: true })
    return {
      newContext: async () => contextOf(await browser.createBrowserContext()),
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
  page.on('pageerror', (error) => errors.push(error instanceof Error ? error.message : String(error)))
  return {
    errors,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    close: () => page.close(),
    evaluate: ((fn: string | ((arg: unknown) => unknown), ...arg: unknown[]) => page.evaluate(fn, ...arg)) as TestPage['evaluate'],
    // A user types and clicks in the tab in front. Firefox shows one tab of a window and stops the
    // animation frames of the others, which puppeteer's locators wait on: bring the tab forward first.
    // Typing goes through an element handle: a locator's fill now and then never saw a field of a
    // page that had just replaced itself (a form posted back to itself) as stable. A handle taken
    // just before the page replaced itself is dead ("Cannot focus non-HTMLElement"): take it again.
    fill: async (selector, value) => {
      await page.bringToFront()
      for (let attempt = 1; ; attempt++) {
        try {
          const field = (await page.waitForSelector(selector, { visible: true }))!
          await field.evaluate((element) => void ((element as HTMLInputElement).value = ''))
          await field.type(value)
          return
        } catch (error) {
          if (attempt === 3) throw error
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
    },
    click: async (selector) => {
      await page.bringToFront()
      await page.locator(selector).click()
    },
    screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png`, fullPage: true })),
  }
}
