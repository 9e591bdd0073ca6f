import { afterAll, beforeAll, beforeEach } from 'vitest'
import { startOidcProvider, type OidcProviderFixture, type OidcProviderOptions } from '../support/oidcProvider.mjs'
import { useBrowserSuite, useContextPerTest, type Engine, type TestPage } from './harness.js'

/**
 * For a suite of the calling describe: the test server and browser, a context per test, an
 * oidc-provider whose one client is registered for the app page (test/browser/oidc.html), and the
 * steps a user takes on that page. `page` settings reach the page's client (e.g. `{ dpop: true }`).
 */
export function useOidcPages(engine: Engine, providerOptions: OidcProviderOptions = {}, page: Record<string, unknown> = {}) {
  const suite = useBrowserSuite(engine)
  const context = useContextPerTest(suite)
  const appUrl = (query = '') => `${suite.server.url}/test/browser/oidc.html${query}`
  const pages = {
    suite,
    context,
    appUrl,
    provider: undefined as unknown as OidcProviderFixture,

    /**
     * Waits until `fn` is truthy in the page, across navigations: an evaluate made while the page is
     * leaving fails, and is asked again.
     */
    async settle<A>(page: TestPage, fn: (arg: A) => unknown, arg?: A, timeout = 15_000): Promise<void> {
      const until = Date.now() + timeout
      while (!(await page.evaluate(fn as (arg: A | undefined) => unknown, arg).catch(() => false))) {
        if (Date.now() > until) throw new Error(`waited ${timeout} ms for ${String(fn)} at ${await page.evaluate(() => location.href + " " + document.readyState + " " + typeof window.auth).catch((e) => String(e))}; page errors: ${page.errors.join(" / ")}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },

    /** A tab on the app page with the provider configured, its client ready. */
    async appTab(storage: 'memory' | 'local' = 'memory', capture = false): Promise<TestPage> {
      const tab = await context().newPage()
      const config = { issuer: pages.provider.issuer, clientId: pages.provider.clientId, postLogoutRedirectUri: appUrl(), storage, capture, ...page }
      await tab.goto(appUrl())
      // Firefox may load the next page before another tab's (or this one's) fresh localStorage write
      // reaches it: reload until the page has its settings.
      for (let attempt = 0; !(await tab.evaluate(() => window.auth !== undefined)); attempt++) {
        if (attempt === 20) throw new Error('the test page never got its settings')
        await tab.evaluate((settings) => localStorage.setItem('oidc-test', settings), JSON.stringify(config))
        await new Promise((resolve) => setTimeout(resolve, attempt * 50))
        await tab.reload()
      }
      await tab.evaluate(() => window.tokenkeeperReady)
      return tab
    },

    /** Logs in from `page` by redirect and waits until it is back at `returnTo`, logged in. */
    async logIn(page: TestPage, returnTo = '/test/browser/oidc.html?view=orders'): Promise<void> {
      await page.evaluate((to) => void window.auth.login({ returnTo: to }), returnTo)
      await pages.settle(page, (href) => location.href === href && !!window.auth?.getSession(), `${suite.server.url}${returnTo}`)
    },

    sessionOf: (page: TestPage) => page.evaluate(() => window.auth.getSession()),
    errorCodes: (page: TestPage) => page.evaluate(() => window.events.filter((event) => event.type === 'error').map((event) => event.code)),
    /** The callback URL this tab came back to, from the page's own record of what it loaded. */
    callbackUrl: (page: TestPage) =>
      page.evaluate(() => (JSON.parse(sessionStorage.getItem('visited') ?? '[]') as string[]).find((href) => href.includes('code='))),
  }

  beforeAll(async () => {
    pages.provider = await startOidcProvider({ redirectUris: [appUrl()], postLogoutRedirectUris: [appUrl()], accessTokenTtlSec: 60, ...providerOptions })
  })
  afterAll(() => pages.provider?.close())
  beforeEach(() => pages.provider.resetEvents())
  return pages
}
