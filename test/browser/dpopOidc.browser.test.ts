// @vitest-environment node
import { randomBytes } from 'node:crypto'
import { expect, it } from 'vitest'
import { describeInEngines, type TestPage } from './harness.js'
import { useOidcPages } from './oidcPages.js'

// tokenkeeper/dpop over the OpenID Connect protocol in a real browser, against oidc-provider's own
// DPoP checks with nonces required: the client is registered with dpop_bound_access_tokens, so the
// provider refuses a token request without a proof, and its userinfo endpoint refuses the token
// without a proof from the key it is bound to.
describeInEngines('DPoP with the oidc protocol against oidc-provider,', (engine) => {
  const pages = useOidcPages(
    engine,
    { features: { dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } }, client: { dpop_bound_access_tokens: true } },
    { dpop: true },
  )
  const { appTab, logIn, settle } = pages
  const userinfo = (tab: TestPage) => tab.evaluate(async (issuer) => (await window.auth.fetch(`${issuer}/me`)).status, pages.provider.issuer)

  it('logs in by redirect with proofs: the provider binds the tokens, userinfo answers auth.fetch, and refuses the token without its proof', async () => {
    const tab = await appTab('local')
    await logIn(tab)
    expect(await userinfo(tab)).toBe(200)
    const replayed = await tab.evaluate(
      async ({ issuer, token }) => Promise.all(['DPoP', 'Bearer'].map(async (scheme) => (await fetch(`${issuer}/me`, { headers: { authorization: `${scheme} ${token}` } })).status)),
      { issuer: pages.provider.issuer, token: (await pages.sessionOf(tab))!.accessToken },
    )
    for (const status of replayed) expect([400, 401]).toContain(status)
    const key = await tab.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve) => {
        const open = indexedDB.open('tokenkeeper-dpop', 1)
        open.onsuccess = () => resolve(open.result)
      })
      const stored = await new Promise<{ privateKey: CryptoKey } | undefined>((resolve) => {
        const get = db.transaction('keys').objectStore('keys').get('tokenkeeper.session')
        get.onsuccess = () => resolve((get.result as unknown[] | undefined)?.at(-1) as never) // the newest of the stored keys
      })
      db.close()
      return stored && { extractable: stored.privateKey.extractable }
    })
    expect(key).toEqual({ extractable: false })
    expect(await pages.errorCodes(tab)).toEqual([])
  }, 60_000)

  it("tabs share the key: the tokens one tab refreshes work in the other, and after a reload", async () => {
    const first = await appTab('local')
    await logIn(first)
    const second = await appTab('local')
    await settle(second, () => !!window.auth.getSession())
    const before = (await pages.sessionOf(first))!.accessToken
    await second.evaluate(() => window.auth.refresh())
    await settle(first, (token) => window.auth.getSession()?.accessToken !== token, before)
    expect(await userinfo(first)).toBe(200)
    expect(await userinfo(second)).toBe(200)
    await first.reload()
    await settle(first, () => window.auth !== undefined)
    await first.evaluate(() => window.tokenkeeperReady)
    expect(await userinfo(first)).toBe(200)
    expect(pages.provider.events.grants.refresh_token).toBeGreaterThanOrEqual(1)
    expect(pages.provider.events.refreshTokenReuse).toBe(0)
    expect(pages.provider.events.grantRevoked).toEqual([])
  }, 60_000)
})
