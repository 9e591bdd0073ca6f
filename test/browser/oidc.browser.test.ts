// @vitest-environment node
import { beforeAll, expect, it } from 'vitest'
import type { OidcProviderFixture } from '../support/oidcProvider.mjs'
import { describeInEngines, type TestPage } from './harness.js'
import { useOidcPages } from './oidcPages.js'

// The whole redirect in a real browser: the app page (test/browser/oidc.html, on the test server's
// origin) → oidc-provider (another origin, in this process; its login step needs no form) → the
// callback on the app page → logged in. Then tabs, rotations and logout as a user meets them.
describeInEngines('oidc protocol against oidc-provider, by redirect,', (engine) => {
  const pages = useOidcPages(engine)
  const { settle, appTab, logIn, sessionOf, errorCodes, callbackUrl } = pages
  let provider: OidcProviderFixture
  beforeAll(() => {
    provider = pages.provider
  })

  it('logs in: app page → provider → callback → logged in at returnTo, with the ID token claims and no trace in the URL', async () => {
    const page = await appTab()
    await logIn(page)
    const session = await sessionOf(page)
    expect(session?.claims).toMatchObject({ sub: 'ada', name: 'Ada Lovelace', iss: provider.issuer })
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((key) => key.startsWith('tokenkeeper.oidc:')))).toEqual([])
    expect(await page.evaluate(() => location.search)).toBe('?view=orders')
    expect(provider.events.grants.authorization_code).toBe(1)
    const callback = new URL((await callbackUrl(page))!)
    expect(callback.searchParams.get('iss')).toBe(provider.issuer)
    const me = await page.evaluate(async (issuer) => (await window.auth.fetch(`${issuer}/me`)).json(), provider.issuer)
    expect(me).toMatchObject({ sub: 'ada', email: 'ada@example.com' })
    expect(await errorCodes(page)).toEqual([])
    expect(page.errors).toEqual([])
  }, 60_000)

  it('four tabs through twenty rotations: one session everywhere, no refresh token used twice', async () => {
    const first = await appTab()
    await logIn(first)
    const tabs = [first, await appTab(), await appTab(), await appTab()]
    for (const tab of tabs) await settle(tab, () => !!window.auth.getSession())
    for (let rotation = 0; rotation < 20; rotation++) await tabs[rotation % 4]!.evaluate(() => window.auth.refresh())
    // And all at once, five times: one refresh across the tabs each time, never the same token twice.
    for (let burst = 0; burst < 5; burst++) await Promise.all(tabs.map((tab) => tab.evaluate(() => window.auth.refresh())))
    const held = await first.evaluate(() => window.auth.getSession()!.accessToken)
    for (const tab of tabs) await settle(tab, (token) => window.auth.getSession()?.accessToken === token, held)
    expect(provider.events.refreshTokenReuse).toBe(0)
    expect(provider.events.grantRevoked).toEqual([])
    expect(provider.events.grants.refresh_token).toBeGreaterThanOrEqual(25)
    expect(provider.events.grants.refresh_token).toBeLessThanOrEqual(40)
    const me = await tabs[2]!.evaluate(async (issuer) => (await window.auth.fetch(`${issuer}/me`)).status, provider.issuer)
    expect(me).toBe(200)
  }, 90_000)

  it('logs out in one tab: every tab follows, the provider revokes the tokens and ends its session (RP-initiated), and the tab comes back logged out', async () => {
    const first = await appTab('local')
    await logIn(first)
    const second = await appTab('local')
    await settle(second, () => !!window.auth.getSession())
    const token = await first.evaluate(() => window.auth.getSession()!.accessToken)
    await first.evaluate(() => void window.auth.logout())
    await settle(second, () => window.auth.getSession() === null)
    // The first tab went to the provider's end_session endpoint and was sent back here; the client
    // took the state it had sent out of the address bar.
    await settle(first, () => JSON.parse(sessionStorage.getItem('visited') ?? '[]').some((href: string) => href.includes('?state=')) && window.auth !== undefined)
    await first.evaluate(() => window.tokenkeeperReady)
    expect(await first.evaluate(() => location.search)).toBe('')
    expect(await sessionOf(first)).toBeNull()
    expect(provider.events.endSession).toBe(1)
    expect(provider.events.revocations).toBeGreaterThanOrEqual(1)
    // The token is dead at the provider, not only forgotten here.
    const status = await second.evaluate(
      async ({ issuer, token }) => (await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${token}` } })).status,
      { issuer: provider.issuer, token },
    )
    expect(status).toBe(401)
  }, 60_000)

  it('refuses a callback opened again after it completed: invalid_callback, the code redeemed once', async () => {
    const page = await appTab()
    await logIn(page)
    const callback = (await callbackUrl(page))!
    await page.goto(callback)
    await settle(page, () => window.auth !== undefined)
    await page.evaluate(() => window.tokenkeeperReady)
    expect(await errorCodes(page)).toEqual(['invalid_callback'])
    expect(await page.evaluate(() => location.search)).toBe('')
    expect(provider.events.grants.authorization_code).toBe(1)
    expect(provider.events.codeReuse).toBe(0)
  }, 60_000)

  it('refuses a callback whose state was changed, and turns a denied login into login_refused', async () => {
    const page = await appTab()
    await logIn(page, '/test/browser/oidc.html')
    // That login completed; now the same callback with a state no login of this tab made.
    const forged = new URL((await callbackUrl(page))!)
    forged.searchParams.set('state', 'forged-by-a-link')
    await page.goto(forged.href)
    await settle(page, () => window.auth !== undefined)
    await page.evaluate(() => window.tokenkeeperReady)
    expect(await errorCodes(page)).toEqual(['invalid_callback'])
    expect(provider.events.grants.authorization_code).toBe(1)

    provider.denyNext()
    await page.evaluate(() => void window.auth.login())
    await settle(page, () => window.events?.some((event) => event.code === 'login_refused'))
    expect(await page.evaluate(() => location.search)).toBe('')
    expect(provider.events.grants.authorization_code).toBe(1)
  }, 60_000)

  it.each<[string, (callback: URL) => void]>([
    ['an iss of another issuer', (callback) => callback.searchParams.set('iss', 'https://evil.example.com')],
    ['no iss, from a provider that promises one', (callback) => callback.searchParams.delete('iss')],
    ['no state', (callback) => callback.searchParams.delete('state')],
  ])('refuses a real callback changed to carry %s: invalid_callback, the code never redeemed, the URL cleaned', async (_, tamper) => {
    const page = await appTab('memory', true)
    await page.evaluate(() => void window.auth.login())
    await settle(page, () => sessionStorage.getItem('authorize-url'))
    const request = (await page.evaluate(() => sessionStorage.getItem('authorize-url')))!
    const callback = new URL(await provider.authorize(request))
    tamper(callback)
    await page.goto(callback.href)
    await settle(page, () => window.auth !== undefined)
    await page.evaluate(() => window.tokenkeeperReady)
    expect(await errorCodes(page)).toEqual(['invalid_callback'])
    expect(await page.evaluate(() => location.search)).toBe('')
    expect(await sessionOf(page)).toBeNull()
    expect(provider.events.grants.authorization_code).toBe(0)
  }, 60_000)

  it('a second login by redirect while another tab holds the first: both tabs take the new session, and it lives on (the provider shares one grant between them)', async () => {
    const first = await appTab('local')
    await logIn(first)
    const second = await appTab('local')
    await settle(second, () => !!window.auth.getSession())
    const old = await second.evaluate(() => window.auth.getSession()!.accessToken)
    await logIn(first, '/test/browser/oidc.html?again')
    // The page shows the stored session until the new login lands.
    await settle(first, (previous) => window.auth.getSession()?.accessToken !== previous, old)
    const token = await first.evaluate(() => window.auth.getSession()!.accessToken)
    await settle(second, (held) => window.auth.getSession()?.accessToken === held, token)
    // The new session refreshes and calls the provider; the one it replaced is dead there.
    await second.evaluate(() => window.auth.refresh())
    const status = (token: string) =>
      first.evaluate(async ({ issuer, token }) => (await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${token}` } })).status, { issuer: provider.issuer, token })
    expect(await first.evaluate(async (issuer) => (await window.auth.fetch(`${issuer}/me`)).status, provider.issuer)).toBe(200)
    await expect.poll(() => status(old), { timeout: 5_000 }).toBe(401) // the replaced session is revoked without waiting
    expect(provider.events.grantRevoked).toEqual([])
    expect(provider.events.refreshTokenReuse).toBe(0)
    expect(await errorCodes(second)).toEqual([])
  }, 60_000)
})

