// @vitest-environment node
import { OAuth2Server } from 'oauth2-mock-server'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeInEngines, openTestPage, useBrowserSuite, type TestPage as Page } from './harness.js'

declare global {
  interface Window {
    oauth: import('../../src/index.js').AuthClient
  }
}

// The built package in a real page, against a real OAuth2 server from another project on another
// origin: CORS, form posts, revocation and the 401 replay as a browser does them.
describeInEngines('oauth2 protocol against oauth2-mock-server, cross-origin,', (engine) => {
  // The page comes from the test auth server; its own client there is left alone.
  const suite = useBrowserSuite(engine)
  const oauth2 = new OAuth2Server()
  let page: Page
  let issuer = ''
  /** The Authorization header of each userinfo request; the first bearer token is refused once. */
  const userinfo: (string | undefined)[] = []

  beforeAll(async () => {
    await oauth2.issuer.keys.generate('RS256')
    await oauth2.start(0, '127.0.0.1')
    issuer = oauth2.issuer.url!
    oauth2.service.on('beforeUserinfo', (response: { statusCode: number }, request: { headers: Record<string, string | undefined> }) => {
      userinfo.push(request.headers.authorization)
      if (userinfo.length === 1) response.statusCode = 401 // as if the server had revoked that token
    })
    page = await openTestPage(await (await suite.browser.newContext()).newPage(), suite.server)
    // A string, so the test runner's transform leaves the page's own import() alone.
    const options = { clientId: 'spa', endpoints: { token: '/token', revocation: '/revoke' } }
    await page.evaluate(`Promise.all([import('/dist/index.js'), import('/dist/oauth2.js')]).then(([tk, { oauth2 }]) => {
      window.oauth = tk.createAuthClient({ baseUrl: ${JSON.stringify(issuer)}, protocol: oauth2(${JSON.stringify(options)}) })
    })`)
  }, 30_000)
  afterAll(() => oauth2.stop())

  it('logs in with the password grant, sends the token to the server, refreshes and replays once on a 401, and revokes at logout', async () => {
    const result = await page.evaluate(async (baseUrl) => {
      const login = await window.oauth.login({ username: 'ada', password: 'anything' })
      const response = await window.oauth.fetch(`${baseUrl}/userinfo`)
      const after = window.oauth.getSession()!
      const logout = await window.oauth.logout()
      return { iss: login.claims.iss, first: login.accessToken, status: response.status, body: await response.json(), second: after.accessToken, logout }
    }, issuer)
    expect(result.iss).toBe(issuer)
    expect(result.status).toBe(200)
    expect(result.body).toEqual({ sub: 'johndoe' })
    expect(result.second).not.toBe(result.first)
    expect(userinfo).toEqual([`Bearer ${result.first}`, `Bearer ${result.second}`])
    expect(result.logout).toEqual({ revoked: true })
  }, 30_000)

  it('sends no token to an origin that is not allowed, even the same server under another name', async () => {
    userinfo.length = 0
    // The same server under its other loopback name: another origin, so not on the allow-list.
    const other = issuer.includes('//localhost') ? issuer.replace('//localhost', '//127.0.0.1') : issuer.replace('//127.0.0.1', '//localhost')
    const status = await page.evaluate(async (url) => {
      await window.oauth.login({ username: 'ada', password: 'anything' })
      return (await window.oauth.fetch(`${url}/userinfo`)).status
    }, other)
    expect(status).toBe(401) // the hook refuses the first request it sees
    expect(userinfo).toEqual([undefined])
  }, 30_000)
})
