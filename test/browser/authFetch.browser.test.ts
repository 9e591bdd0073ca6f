// @vitest-environment node
import { beforeAll, beforeEach, expect, it } from 'vitest'
import { describeInEngines, openTestPage, useBrowserSuite, type TestPage as Page } from './harness.js'

// The 401 replay with the bodies a browser really has: a Request's body is a stream there, FormData
// is sent as multipart with a boundary, and a sent body cannot be read again.
describeInEngines('auth.fetch: one refresh and one replay on a 401, body intact,', (engine) => {
  const suite = useBrowserSuite(engine)
  let page: Page

  beforeAll(async () => {
    page = await openTestPage(await (await suite.browser.newContext()).newPage(), suite.server, 'crossTab=false')
  })
  beforeEach(async () => {
    await page.evaluate(() => window.auth.login({ username: 'ada', password: 'lovelace' }))
    // The server has revoked the token the client still holds: the next API call gets a 401.
    suite.server.rejectAccessToken((await page.evaluate(() => window.auth.getSession()!.accessToken))!)
    suite.server.resetStats()
  })

  it('replays a JSON string body given in init', async () => {
    const echo = await page.evaluate(() =>
      window.auth
        .fetch('/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"note":"kept"}' })
        .then((r) => r.json()),
    )
    expect(echo).toEqual({ method: 'POST', contentType: 'application/json', body: '{"note":"kept"}' })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it('replays a Request with a body (a stream in the browser)', async () => {
    const echo = await page.evaluate(() =>
      window.auth
        .fetch(new Request('/api/echo', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'from a Request' }))
        .then((r) => r.json()),
    )
    expect(echo).toEqual({ method: 'PUT', contentType: 'text/plain', body: 'from a Request' })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it('replays FormData as multipart, fields intact', async () => {
    const echo = await page.evaluate(() => {
      const form = new FormData()
      form.set('title', 'kept')
      return window.auth.fetch('/api/echo', { method: 'POST', body: form }).then((r) => r.json())
    })
    expect(echo.contentType).toMatch(/^multipart\/form-data; boundary=/)
    expect(echo.body).toContain('name="title"\r\n\r\nkept')
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it('10 parallel requests that all get 401: one refresh, each replayed once, all 200', async () => {
    const statuses = await page.evaluate(() =>
      Promise.all(Array.from({ length: 10 }, (_, i) => window.auth.fetch('/api/echo', { method: 'POST', body: String(i) }).then((r) => r.status))),
    )
    expect(statuses).toEqual(Array(10).fill(200))
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 20 })
  })

  it('a second 401 after the replay is returned as it is, with no further refresh', async () => {
    const status = await page.evaluate(() => window.auth.fetch('/api/denied').then((r) => r.status))
    expect(status).toBe(401)
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it("a request with the app's own Authorization goes out untouched, and its 401 refreshes nothing", async () => {
    const status = await page.evaluate(() =>
      window.auth.fetch('/api/echo', { method: 'POST', headers: { authorization: 'Bearer not-ours' } }).then((r) => r.status),
    )
    expect(status).toBe(401)
    expect(suite.server.stats).toMatchObject({ refresh: 0, api: 1, apiWithToken: 1 })
  })

  it('a request redirected to another origin arrives there without the token, and its 401 there refreshes nothing', async () => {
    // The same server under its other loopback name: another origin, so the browser drops the
    // Authorization header at the redirect (Fetch standard), and the client must not take that
    // origin's 401 for its own token's.
    const elsewhere = `${suite.server.url.replace('127.0.0.1', 'localhost')}/api/echo`
    const status = await page.evaluate((to) => window.auth.fetch(`/api/redirect?to=${encodeURIComponent(to)}`).then((r) => r.status), elsewhere)
    expect(status).toBe(401)
    expect(suite.server.stats).toMatchObject({ refresh: 0, api: 1, apiWithToken: 0 })
  })

  it('a request redirected within the origin keeps the token, and a 401 at the end is refreshed and replayed once', async () => {
    const echo = await page.evaluate(() =>
      window.auth.fetch('/api/redirect?to=/api/echo', { method: 'POST', body: 'after a redirect' }).then((r) => r.json()),
    )
    expect(echo).toMatchObject({ method: 'POST', body: 'after a redirect' })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2, apiWithToken: 2 })
  })

  it('through ky (tokenkeeper/ky): a JSON post that gets a 401 is refreshed and replayed once, and ky sees the 200', async () => {
    // A string, so the test runner's transform leaves the page's own import() alone.
    const echo = await page.evaluate(`Promise.all([import('ky'), import('/dist/ky.js')]).then(([{ default: ky }, { withAuth }]) =>
      withAuth(ky.create({ prefix: location.origin }), window.auth).post('api/echo', { json: { note: 'kept' } }).json())`)
    expect(echo).toEqual({ method: 'POST', contentType: 'application/json', body: '{"note":"kept"}' })
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })

  it('through ky: a second 401 becomes ky\'s HTTPError, after one refresh and no ky retry', async () => {
    const error = await page.evaluate(`Promise.all([import('ky'), import('/dist/ky.js')]).then(([{ default: ky }, { withAuth }]) =>
      withAuth(ky.create({ prefix: location.origin }), window.auth).get('api/denied').then(() => 'resolved', (e) => e.name + ' ' + e.response.status))`)
    expect(error).toBe('HTTPError 401')
    expect(suite.server.stats).toMatchObject({ refresh: 1, api: 2 })
  })
})
