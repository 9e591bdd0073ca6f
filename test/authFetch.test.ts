import { Window } from 'happy-dom'
import { http, HttpResponse } from 'msw'
import { afterEach, describe, expect, it } from 'vitest'
import { createAuthClient, type AuthClientOptions } from '../src/index.js'
import { BASE_URL, useMockAuthServer } from './helpers.js'

const { server, mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }

const clients: { destroy(): void }[] = []
async function loggedIn(options: Partial<AuthClientOptions> = {}) {
  const auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false, ...options })
  clients.push(auth)
  const session = await auth.login(ADA)
  return { auth, session }
}
afterEach(() => {
  for (const auth of clients.splice(0)) auth.destroy()
})

/** Answers every method on `origin` with what it received, for assertions. */
function echo(origin: string) {
  const seen: { url: string; authorization: string | null }[] = []
  server.use(
    http.all(`${origin}/*`, ({ request }) => {
      seen.push({ url: request.url, authorization: request.headers.get('authorization') })
      return HttpResponse.json({ ok: true })
    }),
  )
  return seen
}

describe('auth.fetch: where the token goes', () => {
  it('attaches the bearer token to the auth server origin', async () => {
    const { auth, session } = await loggedIn()
    const seen = echo(BASE_URL)
    await auth.fetch(`${BASE_URL}/api/things?page=2`)
    expect(seen).toEqual([{ url: `${BASE_URL}/api/things?page=2`, authorization: `Bearer ${session.accessToken}` }])
  })

  it("attaches it to the page's own origin, resolving relative URLs against the page", async () => {
    const { auth, session } = await loggedIn()
    const seen = echo('https://app.example.com')
    await auth.fetch('/api/profile')
    expect(seen).toEqual([{ url: 'https://app.example.com/api/profile', authorization: `Bearer ${session.accessToken}` }])
  })

  it.each([
    ['a look-alike suffix', 'https://api.example.com.evil.io'],
    ['plain http on the same host', 'http://api.example.com'],
    ['another port of the same host', 'https://api.example.com:8443'],
    ['a subdomain', 'https://eu.api.example.com'],
  ])('sends no token to %s (%s)', async (_, origin) => {
    const { auth } = await loggedIn()
    const seen = echo(new URL(origin).origin)
    const response = await auth.fetch(`${origin}/api/me`)
    expect(response.status).toBe(200)
    expect(seen).toHaveLength(1)
    expect(seen[0]!.authorization).toBeNull()
  })

  it.each([
    ['a tab the parser drops, joining the host to another', `${BASE_URL}\t.evil.io/api/me`, 'https://api.example.com.evil.io'],
    ['a protocol-relative URL', '//evil.io/api/me', 'https://evil.io'],
    ['a backslash the parser reads as a slash', '/\\evil.io/api/me', 'https://evil.io'],
    ['a newline inside the scheme', `https:\n//evil.io/api/me`, 'https://evil.io'],
  ])('sends no token through %s', async (_, input, evilOrigin) => {
    const { auth } = await loggedIn()
    const evil = echo(evilOrigin)
    await auth.fetch(input)
    expect(evil).toEqual([{ url: expect.stringContaining('/api/me'), authorization: null }])
  })

  it('attaches the token through the fast path and the full parse alike', async () => {
    const { auth, session } = await loggedIn()
    const seen = echo(BASE_URL)
    await auth.fetch(`${BASE_URL}/api/a`)
    await auth.fetch(`${BASE_URL}:443/api/b`)
    await auth.fetch(new URL(`${BASE_URL}/api/c`))
    await auth.fetch(`HTTPS://API.EXAMPLE.COM/api/d`)
    expect(seen.map((s) => s.authorization)).toEqual(Array(4).fill(`Bearer ${session.accessToken}`))
  })

  it('sends nothing at all for a URL whose userinfo hides another host (api.example.com@evil.io)', async () => {
    const { auth } = await loggedIn()
    const evil = echo('https://evil.io')
    // The host is evil.io; fetch itself refuses URLs with credentials, and nothing leaves.
    await expect(auth.fetch('https://api.example.com@evil.io/api/me')).rejects.toThrow()
    expect(evil).toEqual([])
  })

  it('follows allowedOrigins exactly when given', async () => {
    const { auth, session } = await loggedIn({ allowedOrigins: ['https://data.example.com'] })
    const data = echo('https://data.example.com')
    const api = echo(BASE_URL)
    await auth.fetch('https://data.example.com/x')
    await auth.fetch(`${BASE_URL}/x`)
    expect(data[0]!.authorization).toBe(`Bearer ${session.accessToken}`)
    expect(api[0]!.authorization).toBeNull()
  })

  it('never puts the token in the URL', async () => {
    const { auth, session } = await loggedIn()
    const seen = echo(BASE_URL)
    await auth.fetch(`${BASE_URL}/api/x`, { method: 'POST', body: 'a=1' })
    expect(seen[0]!.url).not.toContain(session.accessToken)
  })

  it('keeps the headers the app set, and an Authorization the app chose itself', async () => {
    const { auth, session } = await loggedIn()
    let headers: Headers | undefined
    server.use(
      http.get(`${BASE_URL}/api/h`, ({ request }) => {
        headers = request.headers
        return HttpResponse.json({})
      }),
    )
    await auth.fetch(`${BASE_URL}/api/h`, { headers: { 'x-trace': '1' } })
    expect(headers!.get('x-trace')).toBe('1')
    expect(headers!.get('authorization')).toBe(`Bearer ${session.accessToken}`)
    await auth.fetch(`${BASE_URL}/api/h`, { headers: { authorization: 'Basic abc' } })
    expect(headers!.get('authorization')).toBe('Basic abc')
  })

  it('takes a Request object, keeping its method, headers and body', async () => {
    const { auth, session } = await loggedIn()
    let got: { method: string; type: string | null; body: unknown; authorization: string | null } | undefined
    server.use(
      http.put(`${BASE_URL}/api/items/1`, async ({ request }) => {
        got = {
          method: request.method,
          type: request.headers.get('content-type'),
          body: await request.json(),
          authorization: request.headers.get('authorization'),
        }
        return HttpResponse.json({})
      }),
    )
    await auth.fetch(new Request(`${BASE_URL}/api/items/1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"n":1}' }))
    expect(got).toEqual({ method: 'PUT', type: 'application/json', body: { n: 1 }, authorization: `Bearer ${session.accessToken}` })
  })

  it("takes a Request from another realm (an iframe's), which fails instanceof Request, by its shape: it goes out as it is with the token, and is replayed after a 401", async () => {
    const frame = new Window({ url: 'https://app.example.com/' })
    // Its own headers are not asserted: a browser's Headers reads a Headers from any realm by
    // iterating it, happy-dom's only reads its own.
    const foreign = new frame.Request(`${BASE_URL}/api/items/1`, { method: 'PUT', body: '{"n":1}' }) as unknown as Request
    expect(foreign instanceof Request).toBe(false)
    const sent: unknown[] = []
    let rejected = ''
    const { auth, session } = await loggedIn({
      // The auth server's endpoints reach the mock server; the app's request is answered here, as a
      // browser's fetch, which takes a Request from any realm, would send it.
      fetch: async (input, init) => {
        if (typeof input === 'string' && input.startsWith(`${BASE_URL}/auth/`)) return fetch(input, init)
        const request = input as Request
        const headers = new Headers(init?.headers)
        sent.push({ url: request.url ?? String(input), method: request.method, authorization: headers.get('authorization'), body: await request.text?.() })
        return new Response(null, { status: headers.get('authorization') === `Bearer ${rejected}` ? 401 : 204 })
      },
    })
    rejected = session.accessToken
    const response = await auth.fetch(foreign)
    const fresh = auth.getSession()!.accessToken
    expect(response.status).toBe(204)
    expect(sent).toEqual([
      { url: `${BASE_URL}/api/items/1`, method: 'PUT', authorization: `Bearer ${session.accessToken}`, body: '{"n":1}' },
      { url: `${BASE_URL}/api/items/1`, method: 'PUT', authorization: `Bearer ${fresh}`, body: '{"n":1}' },
    ])
    expect(fresh).not.toBe(session.accessToken)
    await frame.happyDOM.close()
  })

  it('a request made after logout carries no token', async () => {
    const { auth } = await loggedIn()
    await auth.logout()
    const seen = echo(BASE_URL)
    await auth.fetch(`${BASE_URL}/api/me`)
    expect(seen[0]!.authorization).toBeNull()
  })

  it('goes out untouched when logged out, without waiting for a refresh', async () => {
    const auth = createAuthClient({ baseUrl: BASE_URL })
    clients.push(auth)
    const seen = echo(BASE_URL)
    expect((await auth.fetch(`${BASE_URL}/api/public`)).status).toBe(200)
    expect(seen[0]!.authorization).toBeNull()
    expect(mock().counts.refresh).toBe(0)
  })
})

describe('auth.fetch: 401 and replay', () => {
  it('a POST with a JSON body is replayed intact after a 401', async () => {
    const { auth, session } = await loggedIn()
    const bodies: unknown[] = []
    server.use(
      http.post(`${BASE_URL}/api/orders`, async ({ request }) => {
        bodies.push(await request.json())
        return request.headers.get('authorization') === `Bearer ${session.accessToken}`
          ? new HttpResponse(null, { status: 401 })
          : HttpResponse.json({ created: true }, { status: 201 })
      }),
    )
    const response = await auth.fetch(`${BASE_URL}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'tea', qty: 2 }),
    })
    expect(response.status).toBe(201)
    expect(bodies).toEqual([
      { item: 'tea', qty: 2 },
      { item: 'tea', qty: 2 },
    ])
    expect(mock().counts.refresh).toBe(1)
  })

  it('replays a Request object with its body after a 401 (cloned before sending)', async () => {
    const { auth, session } = await loggedIn()
    const bodies: string[] = []
    server.use(
      http.post(`${BASE_URL}/api/upload`, async ({ request }) => {
        bodies.push(await request.text())
        return request.headers.get('authorization') === `Bearer ${session.accessToken}`
          ? new HttpResponse(null, { status: 401 })
          : HttpResponse.json({})
      }),
    )
    const response = await auth.fetch(new Request(`${BASE_URL}/api/upload`, { method: 'POST', body: 'payload-1' }))
    expect(response.status).toBe(200)
    expect(bodies).toEqual(['payload-1', 'payload-1'])
  })

  it('a second 401 is returned as it is', async () => {
    const { auth } = await loggedIn()
    let calls = 0
    server.use(
      http.get(`${BASE_URL}/api/admin`, () => {
        calls++
        return HttpResponse.json({ error: 'nope' }, { status: 401 })
      }),
    )
    const response = await auth.fetch(`${BASE_URL}/api/admin`)
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({ error: 'nope' })
    expect(calls).toBe(2)
    expect(mock().counts.refresh).toBe(1)
  })

  it('a 403 triggers nothing', async () => {
    const { auth } = await loggedIn()
    let calls = 0
    server.use(
      http.get(`${BASE_URL}/api/forbidden`, () => {
        calls++
        return new HttpResponse(null, { status: 403 })
      }),
    )
    expect((await auth.fetch(`${BASE_URL}/api/forbidden`)).status).toBe(403)
    expect(calls).toBe(1)
    expect(mock().counts.refresh).toBe(0)
  })

  it('a 401 from an origin that got no token is returned without a refresh', async () => {
    const { auth } = await loggedIn()
    server.use(http.get('https://other.example.net/x', () => new HttpResponse(null, { status: 401 })))
    expect((await auth.fetch('https://other.example.net/x')).status).toBe(401)
    expect(mock().counts.refresh).toBe(0)
  })

  it('a 401 from a foreign origin that an allowed origin redirected to triggers no refresh, and is returned as it is', async () => {
    const { auth } = await loggedIn()
    const foreign: (string | null)[] = []
    server.use(
      http.get(`${BASE_URL}/api/moved`, () => HttpResponse.redirect('https://other.example.net/login', 302)),
      http.get('https://other.example.net/login', ({ request }) => {
        foreign.push(request.headers.get('authorization'))
        return HttpResponse.json({ error: 'theirs' }, { status: 401 })
      }),
    )
    const response = await auth.fetch(`${BASE_URL}/api/moved`)
    expect([response.status, response.url]).toEqual([401, 'https://other.example.net/login'])
    expect(await response.json()).toEqual({ error: 'theirs' })
    expect(mock().counts.refresh).toBe(0)
    // Fetch itself drops the Authorization header on a cross-origin redirect (Fetch standard, HTTP-redirect fetch).
    expect(foreign).toEqual([null])
  })

  it("a 401 whose response URL is on a foreign origin (a custom fetch's) triggers no refresh, and is returned as it is", async () => {
    const unauthorized = new Response(null, { status: 401 })
    Object.defineProperty(unauthorized, 'url', { value: 'https://other.example.net/x' })
    let calls = 0
    const { auth } = await loggedIn({
      fetch: (input, init) => {
        if (String(input).startsWith(`${BASE_URL}/auth/`)) return fetch(input, init)
        calls++
        return Promise.resolve(unauthorized)
      },
    })
    expect(await auth.fetch(`${BASE_URL}/api/x`)).toBe(unauthorized)
    expect(calls).toBe(1)
    expect(mock().counts.refresh).toBe(0)
  })

  it('a 401 in a Response with no URL (one made by hand) counts as the request\'s own: refreshed and replayed', async () => {
    let calls = 0
    const { auth } = await loggedIn({
      fetch: (input, init) => {
        if (String(input).startsWith(`${BASE_URL}/auth/`)) return fetch(input, init)
        return Promise.resolve(new Response(null, { status: ++calls === 1 ? 401 : 200 }))
      },
    })
    expect((await auth.fetch(`${BASE_URL}/api/x`)).status).toBe(200)
    expect(calls).toBe(2)
    expect(mock().counts.refresh).toBe(1)
  })

  it('a 401 whose refresh is refused returns the 401 and ends the session', async () => {
    const { auth } = await loggedIn()
    const expired: unknown[] = []
    auth.on('session-expired', (payload) => expired.push(payload))
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    server.use(http.get(`${BASE_URL}/api/x`, () => new HttpResponse(null, { status: 401 })))
    expect((await auth.fetch(`${BASE_URL}/api/x`)).status).toBe(401)
    expect(expired).toHaveLength(1)
    expect(auth.getSession()).toBeNull()
  })

  it('does not replay a streamed body, which can be read only once', async () => {
    const { auth } = await loggedIn()
    let calls = 0
    server.use(
      http.post(`${BASE_URL}/api/stream`, () => {
        calls++
        return new HttpResponse(null, { status: 401 })
      }),
    )
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('chunk'))
        controller.close()
      },
    })
    const response = await auth.fetch(`${BASE_URL}/api/stream`, { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(401)
    expect(calls).toBe(1)
  })
})

describe('auth.fetch: aborted while it waits for the refresh', () => {
  it.each([
    ['its token expired', 'expired'],
    ['it got a 401 and waits to replay', '401'],
  ])('a request aborted while %s rejects at once with the AbortError, as fetch does; the refresh goes on', async (_, how) => {
    let offset = 0
    const clock = { now: () => Date.now() + offset, setTimeout: (run: () => void, ms: number) => setTimeout(run, ms), clearTimeout: (handle: unknown) => clearTimeout(handle as never) }
    const { auth } = await loggedIn({ clock })
    let answer: (() => void) | undefined
    server.use(
      // A slow auth server: held, then falls through to the mock's own answer.
      http.post(`${BASE_URL}/auth/refresh`, () => new Promise<undefined>((resolve) => (answer = () => resolve(undefined))), { once: true }),
    )
    if (how === 'expired') offset = 301_000 // the token expired while the laptop slept
    else server.use(http.get(`${BASE_URL}/api/me`, () => new HttpResponse(null, { status: 401 }), { once: true }))
    const controller = new AbortController()
    const request = auth.fetch(`${BASE_URL}/api/me`, { signal: controller.signal })
    await expect.poll(() => answer).toBeDefined()
    controller.abort()
    await expect(request).rejects.toMatchObject({ name: 'AbortError' })
    answer!()
    await expect.poll(() => mock().counts.refresh).toBe(1)
    await expect.poll(() => auth.getSession()?.expiresAt).toBeGreaterThan(clock.now() + 60_000)
  })
})
