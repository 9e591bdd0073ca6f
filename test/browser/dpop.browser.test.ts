// @vitest-environment node
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildReactExample } from '../../examples/react/build.mjs'
import { startDemoServer } from '../../examples/server/server.mjs'
import type { TestBrowser } from './engines/index.js'
import { countOf, describeInEngines, isVisible, textOf, waitForVisible, waitUntil, type TestPage as Page } from './harness.js'

// tokenkeeper/dpop in a real browser, through the demo's own page, against the example server in
// DPoP mode with server nonces: the server checks every proof with jose and binds the tokens (and
// the refresh cookie's family) to the key; only the browser can tell whether the key really lives
// in IndexedDB, unexportable, for the reload and the other tab.
describeInEngines('DPoP end to end against the example server,', (engine) => {
  let server: Awaited<ReturnType<typeof startDemoServer>>
  let browser: TestBrowser

  beforeAll(async () => {
    await buildReactExample()
    // 6-second tokens: a silent refresh every 3 s.
    server = await startDemoServer({ dpop: true, dpopNonce: true, accessTokenLifetimeSec: 6 })
    browser = await engine.launch()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = async (page: Page) => {
    await page.goto(`${server.url}/`)
    await waitUntil(page, () => document.body.dataset.ready === 'true')
  }
  const callApi = async (page: Page) => {
    const before = await countOf(page, '#event-log li[data-type="api"]')
    await page.click('#call-api')
    await waitUntil(page, (n) => document.querySelectorAll('#event-log li[data-type="api"]').length > n, before)
    return (await textOf(page, '#api-result'))!.slice(0, 3)
  }
  /** The origin's DPoP key as IndexedDB holds it, and whether script in the page can export its private half. */
  const storedKey = (page: Page) =>
    page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open('tokenkeeper-dpop', 1)
        open.onupgradeneeded = () => open.result.createObjectStore('keys')
        open.onsuccess = () => resolve(open.result)
        open.onerror = () => reject(open.error)
      })
      const key = await new Promise<{ id: string; privateKey: CryptoKey } | undefined>((resolve) => {
        const get = db.transaction('keys').objectStore('keys').get('tokenkeeper.session')
        get.onsuccess = () => resolve((get.result as unknown[] | undefined)?.at(-1) as never) // the newest of the stored keys
      })
      db.close()
      if (!key) return null
      const exported = await crypto.subtle.exportKey('jwk', key.privateKey).then(() => 'exported', () => 'refused')
      return { id: key.id, extractable: key.privateKey.extractable, curve: (key.privateKey.algorithm as EcKeyAlgorithm).namedCurve, exported }
    })

  it('logs in, calls the API with proofs across silent refreshes, keeps the key in IndexedDB for a reload and a second tab, and deletes it at logout', async () => {
    const context = await browser.newContext()
    const first = await context.newPage()
    await open(first)
    await first.fill('input[name="password"]', 'lovelace')
    await first.click('#login-form button[type="submit"]')
    await waitForVisible(first, '#session-panel')

    expect(await callApi(first)).toBe('200')
    // The demo's log shows the DPoP header of the API request: bound to the token, with the server's nonce.
    const proofs = await first.evaluate(() => [...document.querySelectorAll('#event-log li[data-type="dpop"]')].map((li) => li.textContent))
    expect(proofs.some((text) => /GET \/api\/me, key .*ath \(bound to the token\), server nonce; Authorization: DPoP/.test(text!))).toBe(true)

    const key = await storedKey(first)
    expect(key).toMatchObject({ extractable: false, curve: 'P-256', exported: 'refused' })

    // A silent refresh: the refresh cookie's family is bound to the key, so it needs the same key.
    await waitUntil(first, () => document.querySelectorAll('#event-log li[data-type="refresh"]').length > 0, undefined, 10_000)
    expect(await callApi(first)).toBe('200')

    // A reload: tokens were in memory only, so the page asks the server with the cookie, signed by the stored key.
    await open(first)
    await waitForVisible(first, '#session-panel')
    expect(await callApi(first)).toBe('200')
    expect((await storedKey(first))?.id).toBe(key!.id)

    // A second tab takes the session from the first, and its requests carry proofs from the same key.
    const second = await context.newPage()
    await open(second)
    await waitForVisible(second, '#session-panel')
    expect(await callApi(second)).toBe('200')
    expect((await storedKey(second))?.id).toBe(key!.id)

    await first.click('#logout')
    await waitForVisible(first, '#login-panel')
    await waitForVisible(second, '#login-panel')
    // The panel follows the logout event; the key goes once the revocation it signs is answered.
    await expect.poll(() => storedKey(first), { timeout: 5_000 }).toBeNull()
    expect(await isVisible(second, '#session-panel')).toBe(false)
    await context.close()
  }, 60_000)

  it('the React page logs in and calls the API with proofs too', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`${server.url}/react/`)
    await waitUntil(page, () => document.querySelector('#root h1') !== null)
    await page.fill('input[name="password"]', 'lovelace')
    await page.click('button[type="submit"]')
    await waitUntil(page, () => document.querySelector('h2')?.textContent === 'Logged in as Ada Lovelace')
    await page.evaluate(() => [...document.querySelectorAll('button')].find((button) => button.textContent === 'Call the API')!.click())
    await waitUntil(page, () => /^\d{3} /.test(document.querySelector('pre[aria-live]')?.textContent ?? ''))
    expect((await textOf(page, 'pre[aria-live]'))!.slice(0, 3)).toBe('200')
    expect((await storedKey(page))?.extractable).toBe(false)
    await context.close()
  }, 60_000)

  it('a new login makes a new key', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await open(page)
    const logIn = async () => {
      await page.fill('input[name="password"]', 'lovelace')
      await page.click('#login-form button[type="submit"]')
      await waitForVisible(page, '#session-panel')
      return (await storedKey(page))!.id
    }
    const first = await logIn()
    await page.click('#logout')
    await waitForVisible(page, '#login-panel')
    const second = await logIn()
    expect(second).not.toBe(first)
    expect(await callApi(page)).toBe('200')
    await context.close()
  }, 60_000)
})
