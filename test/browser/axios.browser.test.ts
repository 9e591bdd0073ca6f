// @vitest-environment node
import { beforeAll, beforeEach, expect, it } from 'vitest'
import { describeInEngines, openTestPage, useBrowserSuite, type TestPage as Page } from './harness.js'

// tokenkeeper/axios in a real browser: axios's own browser build (its fetch adapter builds a
// Request, whose body is a stream here) through auth.fetch, against the test auth server.
describeInEngines('tokenkeeper/axios: one refresh and one replay on a 401, the token on this origin only,', (engine) => {
  const suite = useBrowserSuite(engine)
  let page: Page

  /**
   * Runs `body` in the page with `api`, an axios instance for this origin given to withAuth, and
   * `other`, this server under its other loopback name (another origin). A string, so the test
   * runner's transform leaves the page's own import() alone.
   */
  const withAxios = <R>(body: string): Promise<R> =>
    page.evaluate<R>(`Promise.all([import('axios'), import('/dist/axios.js')]).then(([{ default: axios }, { withAuth }]) => {
      const api = withAuth(axios.create({ baseURL: location.origin }), window.auth)
      const other = location.origin.replace('127.0.0.1', 'localhost')
      /** An AxiosError as name, status and whether any JWT is in it (a JWT begins with eyJ). */
      const failure = (e) => ({ name: e.name, status: e.response?.status ?? null, code: e.code, jwt: /eyJ/.test(JSON.stringify(e.toJSON()) + e.message + e.stack + JSON.stringify(e.config.headers)) })
      return ${body}
    })`)

  beforeAll(async () => {
    page = await openTestPage(await (await suite.browser.newContext()).newPage(), suite.server, 'crossTab=false')
  })
  beforeEach(async () => {
    await page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }))
    // The server has revoked the token the client still holds: the next API call gets a 401.
    suite.server.rejectAccessToken((await page.evaluate(() => window.auth.getSession()!.accessToken))!)
    suite.server.resetStats()
  })

  it('a JSON post that gets a 401 is refreshed and replayed once, body intact, and axios sees the 200', async () => {
    const echo = await withAxios(`api.post('/api/echo', { note: 'kept' }).then((r) => [r.status, r.data])`)
    expect(echo).toEqual([200, { method: 'POST', contentType: 'application/json', body: '{"note":"kept"}' }])
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2, apiWithToken: 2 })
  })

  it('FormData is replayed as multipart, fields intact', async () => {
    const echo = await withAxios<{ contentType: string; body: string }>(`(() => {
      const form = new FormData()
      form.set('title', 'kept')
      return api.put('/api/echo', form).then((r) => r.data)
    })()`)
    expect(echo.contentType).toMatch(/^multipart\/form-data; boundary=/)
    expect(echo.body).toContain('name="title"\r\n\r\nkept')
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it('10 parallel requests that all get 401: one refresh, each replayed once, all 200', async () => {
    const statuses = await withAxios(`Promise.all(Array.from({ length: 10 }, (_, i) => api.post('/api/echo', String(i)).then((r) => r.status)))`)
    expect(statuses).toEqual(Array(10).fill(200))
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 20 })
  })

  it('a second 401 after the replay rejects as an AxiosError with status 401, with no JWT in it, after one refresh', async () => {
    const error = await withAxios(`api.get('/api/denied').then(() => 'resolved', failure)`)
    expect(error).toEqual({ name: 'AxiosError', status: 401, code: 'ERR_BAD_REQUEST', jwt: false })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it("a request with the app's own Authorization goes out untouched, and its 401 refreshes nothing", async () => {
    const error = await withAxios(`api.post('/api/echo', 'x', { headers: { Authorization: 'Bearer not-ours' } }).then(() => 'resolved', failure)`)
    expect(error).toMatchObject({ status: 401 })
    expect(suite.server.stats).toMatchObject({ refresh: 0, api: 1, apiWithToken: 1 })
  })

  it('an API on another origin that is on the allow-list gets the token through a CORS preflight, and its 401 is refreshed and replayed once', async () => {
    // A second client that allows the other origin. The server's CORS allows content-type,
    // authorization and accept, as an API's usually does: not the fetch adapter's User-Agent, which
    // Firefox would send and ask the preflight for.
    const token = await page.evaluate<string>(`import('/dist/index.js').then(async ({ createAuthClient }) => {
      window.crossOriginAuth?.destroy()
      window.crossOriginAuth = createAuthClient({ baseUrl: location.origin, crossTab: false, allowedOrigins: [location.origin.replace('127.0.0.1', 'localhost')] })
      return (await window.crossOriginAuth.login({ username: 'ada', password: 'lovelace' })).accessToken
    })`)
    suite.server.rejectAccessToken(token)
    suite.server.resetStats()
    const echo = await withAxios(`withAuth(axios.create({ baseURL: other }), window.crossOriginAuth).post('/api/echo', { note: 'kept' }).then((r) => r.data, failure)`)
    expect(echo).toEqual({ method: 'POST', contentType: 'application/json', body: '{"note":"kept"}' })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2, apiWithToken: 2 })
  })

  it('an absolute URL to another origin, on the same instance, arrives without the token, and its 401 refreshes nothing', async () => {
    const error = await withAxios(`api.get(other + '/api/echo').then(() => 'resolved', failure)`)
    expect(error).toMatchObject({ name: 'AxiosError', status: 401, jwt: false })
    expect(suite.server.stats).toMatchObject({ refresh: 0, api: 1, apiWithToken: 0 })
  })

  it('a request redirected to another origin arrives there without the token, and its 401 there refreshes nothing', async () => {
    const error = await withAxios(`api.get('/api/redirect', { params: { to: other + '/api/echo' } }).then(() => 'resolved', failure)`)
    expect(error).toMatchObject({ name: 'AxiosError', status: 401, jwt: false })
    expect(suite.server.stats).toMatchObject({ refresh: 0, api: 1, apiWithToken: 0 })
  })

  it('a request redirected within the origin keeps the token, and a 401 at the end is refreshed and replayed once', async () => {
    const echo = await withAxios(`api.post('/api/redirect?to=/api/echo', 'after a redirect', { headers: { 'content-type': 'text/plain' } }).then((r) => r.data)`)
    expect(echo).toMatchObject({ method: 'POST', body: 'after a redirect' })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2, apiWithToken: 2 })
  })
})
