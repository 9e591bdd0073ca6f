import axios, { AxiosError, type CreateAxiosDefaults } from 'axios'
import { http, HttpResponse } from 'msw'
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { createAuthClient, isAuthError, type AuthClient, type AuthClientOptions } from '../src/index.js'
import { withAuth } from '../src/axios/index.js'
import { BASE_URL, record, serialize, useMockAuthServer } from './helpers.js'

const { server, mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }

let auth: AuthClient
afterEach(() => {
  auth?.destroy()
  vi.useRealTimers()
})

/** Moves the clock (Date only) an hour on: the access token has expired while the app was away. */
const anHourLater = () => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Date.now() + 3_600_000)
}

/** What `auth.fetch` was handed by axios, through the client's `fetch` option. */
type Sent = { request: Request; init: RequestInit | undefined }

async function api(options: CreateAxiosDefaults = {}, login = true, client: Partial<AuthClientOptions> = {}) {
  const sent: Sent[] = []
  auth = createAuthClient({
    baseUrl: BASE_URL,
    crossTab: false,
    ...client,
    fetch: (input, init) => {
      if (input instanceof Request && !input.url.includes('/auth/')) sent.push({ request: input, init })
      return fetch(input, init)
    },
  })
  const session = login ? await auth.login(ADA) : null
  return { api: withAuth(axios.create({ baseURL: BASE_URL, ...options }), auth), session, sent }
}

/** An endpoint that answers 401 to the first access token and `then` afterwards. */
function rejectsFirstToken(path: string, firstToken: string, then: () => Response = () => HttpResponse.json({ ok: true })) {
  const calls: (string | null)[] = []
  server.use(
    http.all(`${BASE_URL}/${path}`, ({ request }) => {
      const authorization = request.headers.get('authorization')
      calls.push(authorization)
      return authorization === `Bearer ${firstToken}` ? new HttpResponse(null, { status: 401 }) : then()
    }),
  )
  return calls
}

/** Records the Authorization header each request to `url` arrived with, and answers `status`. */
function recordsAuthorization(url: string, status = 200) {
  const seen: (string | null)[] = []
  server.use(
    http.all(url, ({ request }) => {
      seen.push(request.headers.get('authorization'))
      return HttpResponse.json({}, { status })
    }),
  )
  return seen
}

describe('tokenkeeper/axios', () => {
  it('sets the instance up in place and returns it, with its type', async () => {
    const { api: client } = await api()
    const instance = axios.create()
    expect(withAuth(instance, auth)).toBe(instance)
    expect(instance.defaults.adapter).toBe('fetch')
    expectTypeOf(withAuth(instance, auth)).toEqualTypeOf(instance)
    expect(client.defaults.baseURL).toBe(BASE_URL)
  })

  it('gives every instance of one client the same fetch, since axios keeps an adapter per fetch for good', async () => {
    await api()
    const fetchOf = () => withAuth(axios.create(), auth).defaults.env!.fetch
    expect(fetchOf()).toBe(fetchOf())
    const other = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
    expect(fetchOf()).not.toBe(withAuth(axios.create(), other).defaults.env!.fetch)
    other.destroy()
  })

  it('attaches the token to baseURL requests, and not to an absolute URL on another origin', async () => {
    const { api: client, session } = await api()
    const seen = recordsAuthorization('https://elsewhere.example.org/x')
    expect((await client.get('/api/me')).data).toEqual({ sub: 'ada' })
    await client.get('https://elsewhere.example.org/x')
    expect(seen).toEqual([null])
    expect(mock().counts.api).toBe(1)
    expect(session!.accessToken).toBeTruthy()
  })

  it('a 401 from another origin refreshes nothing and rejects with that 401', async () => {
    const { api: client } = await api()
    const seen = recordsAuthorization('https://elsewhere.example.org/x', 401)
    const error = await client.get('https://elsewhere.example.org/x').catch((e: unknown) => e)
    expect((error as AxiosError).response?.status).toBe(401)
    expect(seen).toEqual([null])
    expect(mock().counts.refresh).toBe(0)
  })

  it('20 parallel calls that get 401 share one refresh, and all succeed', async () => {
    const { api: client, session } = await api()
    const calls = rejectsFirstToken('api/data', session!.accessToken)
    const results = await Promise.all(Array.from({ length: 20 }, () => client.get('/api/data').then((r) => r.data)))
    expect(results).toEqual(Array(20).fill({ ok: true }))
    expect(mock().counts.refresh).toBe(1)
    expect(calls.filter((c) => c === `Bearer ${session!.accessToken}`)).toHaveLength(20)
    expect(calls).toHaveLength(40)
  })

  it('a 401 that survives the refresh rejects as an AxiosError with status 401, after one refresh and one replay', async () => {
    const { api: client } = await api()
    let calls = 0
    server.use(
      http.get(`${BASE_URL}/api/locked`, () => {
        calls++
        return new HttpResponse(null, { status: 401 })
      }),
    )
    const error = await client.get('/api/locked').catch((e: unknown) => e)
    expect(axios.isAxiosError(error)).toBe(true)
    expect((error as AxiosError).response?.status).toBe(401)
    expect(calls).toBe(2)
    expect(mock().counts.refresh).toBe(1)
  })

  it('an AxiosError holds no token: not in its config, its request, its message or toJSON()', async () => {
    const { api: client, session } = await api()
    server.use(http.get(`${BASE_URL}/api/locked`, () => HttpResponse.json({ error: 'nope' }, { status: 401 })))
    const error = (await client.get('/api/locked').catch((e: unknown) => e)) as AxiosError
    const tokens = [session!.accessToken, auth.getSession()!.accessToken]
    expect(tokens[0]).not.toBe(tokens[1])
    const dumps = [
      serialize(error),
      JSON.stringify(error.toJSON()),
      JSON.stringify(error.config?.headers),
      String(error.config?.url),
      JSON.stringify([...(error.request as Request).headers]),
      (error.request as Request).url,
      error.stack ?? '',
    ]
    for (const dump of dumps) for (const token of tokens) expect(dump).not.toContain(token)
  })

  it('validateStatus accepting every status hands back the final answer: the 401 after the replay', async () => {
    const { api: client } = await api({ validateStatus: () => true })
    let calls = 0
    server.use(
      http.get(`${BASE_URL}/api/locked`, () => {
        calls++
        return HttpResponse.json({ error: 'nope', call: calls }, { status: 401 })
      }),
    )
    const response = await client.get('/api/locked')
    expect(response.status).toBe(401)
    expect(response.data).toEqual({ error: 'nope', call: 2 })
    expect(mock().counts.refresh).toBe(1)
  })

  it('replays a JSON body intact after a 401', async () => {
    const { api: client, session } = await api()
    const bodies: unknown[] = []
    server.use(
      http.post(`${BASE_URL}/api/orders`, async ({ request }) => {
        bodies.push(await request.json())
        return request.headers.get('authorization') === `Bearer ${session!.accessToken}`
          ? new HttpResponse(null, { status: 401 })
          : HttpResponse.json({ created: true }, { status: 201 })
      }),
    )
    const response = await client.post('/api/orders', { item: 'tea' })
    expect(response.status).toBe(201)
    expect(response.data).toEqual({ created: true })
    expect(bodies).toEqual([{ item: 'tea' }, { item: 'tea' }])
  })

  it("the app's own Authorization (per request, instance default, or axios's auth option) goes out as it is, and its 401 refreshes nothing", async () => {
    const { api: client } = await api({ headers: { common: {} } })
    const seen = recordsAuthorization(`${BASE_URL}/api/partner`, 401)
    await client.get('/api/partner', { headers: { Authorization: 'Bearer not-ours' } }).catch(() => undefined)
    await client.get('/api/partner', { auth: { username: 'u', password: 'p' } }).catch(() => undefined)
    client.defaults.headers.common.Authorization = 'Token abc'
    await client.get('/api/partner').catch(() => undefined)
    expect(seen).toEqual(['Bearer not-ours', `Basic ${btoa('u:p')}`, 'Token abc'])
    expect(mock().counts.refresh).toBe(0)
  })

  it('withCredentials reaches fetch as credentials: include, and the token is still attached', async () => {
    const { api: client, sent } = await api({ withCredentials: true })
    await client.get('/api/me')
    expect(sent).toHaveLength(1)
    expect(sent[0]!.request.credentials).toBe('include')
    expect(mock().counts.unauthorized).toBe(0)
  })

  it("leaves out the fetch adapter's User-Agent (Firefox would make CORS preflights ask for it), and sends the app's own", async () => {
    const { api: client } = await api()
    const agents: (string | null)[] = []
    server.use(
      http.get(`${BASE_URL}/api/agent`, ({ request }) => {
        agents.push(request.headers.get('user-agent'))
        return HttpResponse.json({})
      }),
    )
    await client.get('/api/agent')
    await client.get('/api/agent', { headers: { 'User-Agent': 'shop/2.0' } })
    client.defaults.headers.common['User-Agent'] = 'shop/3.0'
    await client.get('/api/agent')
    expect(agents).toEqual([null, 'shop/2.0', 'shop/3.0'])
  })

  it('when logged out, the request goes through auth.fetch with no token, and its 401 refreshes nothing', async () => {
    const { api: client, sent } = await api({}, false)
    const seen = recordsAuthorization(`${BASE_URL}/api/open`, 401)
    const error = await client.get('/api/open').catch((e: unknown) => e)
    expect((error as AxiosError).response?.status).toBe(401)
    expect(sent).toHaveLength(1)
    expect(seen).toEqual([null])
    expect(mock().counts.refresh).toBe(0)
  })

  it('a session that expires during the request (refresh refused) surfaces as the 401, with session-expired emitted once', async () => {
    const { api: client, session } = await api()
    const expired = record((listener) => auth.on('session-expired', listener))
    const calls = rejectsFirstToken('api/data', session!.accessToken)
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    const error = await client.get('/api/data').catch((e: unknown) => e)
    expect(axios.isAxiosError(error)).toBe(true)
    expect((error as AxiosError).response?.status).toBe(401)
    expect(calls).toHaveLength(1)
    expect(expired).toHaveLength(1)
    expect(auth.getSession()).toBeNull()
    expect(serialize(error)).not.toContain(session!.accessToken)
    // Later requests go out as a logged-out app's would.
    await client.get('/api/data')
    expect(calls).toEqual([`Bearer ${session!.accessToken}`, null])
  })

  it('a session found expired before the request (refresh refused) sends it without a token: the 401 surfaces, session-expired is emitted', async () => {
    const { api: client, session } = await api()
    const expired = record((listener) => auth.on('session-expired', listener))
    mock().failNextRefreshes(1, { kind: 'invalid_grant' })
    anHourLater()
    const error = await client.get('/api/me').catch((e: unknown) => e)
    expect((error as AxiosError).response?.status).toBe(401)
    expect(mock().counts).toMatchObject({ refresh: 1, api: 1 })
    expect(expired).toHaveLength(1)
    expect(auth.getSession()).toBeNull()
    expect(JSON.stringify((error as AxiosError).toJSON())).not.toContain(session!.accessToken)
  })

  it("a refresh that cannot reach the server rejects as an AxiosError with the AuthError's code and name, with no token in it; the session stays", async () => {
    const { api: client, session } = await api({}, true, { retryAttempts: 1, retryMinDelayMs: 1 })
    mock().failNextRefreshes(5, { kind: 'network-error' })
    anHourLater()
    const error = (await client.get('/api/me').catch((e: unknown) => e)) as AxiosError
    expect(axios.isAxiosError(error)).toBe(true)
    expect(error.code).toBe('network')
    // axios copies the name, so the guard accepts it (axios 1.21 also keeps the AuthError as its
    // cause; 1.12 copied the AuthError's own cause instead).
    expect(isAuthError(error)).toBe(true)
    expect(error.response).toBeUndefined()
    expect(mock().counts.api).toBe(0)
    expect(auth.getSession()).toBe(session)
    for (const dump of [serialize(error), JSON.stringify(error.toJSON()), error.stack ?? '']) expect(dump).not.toContain(session!.accessToken)
  })

  it('an abort while the request waits for the refresh rejects as axios cancels, and the refresh goes on', async () => {
    const { api: client, session } = await api()
    rejectsFirstToken('api/data', session!.accessToken)
    let refreshing!: () => void
    const started = new Promise<void>((resolve) => (refreshing = resolve))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    // Holds the refresh, then lets the mock server answer it.
    server.use(http.post(`${BASE_URL}/auth/refresh`, async () => void (refreshing(), await gate)))
    const controller = new AbortController()
    const pending = client.get('/api/data', { signal: controller.signal }).catch((e: unknown) => e)
    await started
    controller.abort()
    const error = await pending
    expect(axios.isCancel(error)).toBe(true)
    expect((error as AxiosError).code).toBe('ERR_CANCELED')
    release()
    await expect.poll(() => auth.getSession()?.accessToken).not.toBe(session!.accessToken)
    expect(mock().counts.refresh).toBe(1)
  })

  it("the instance's interceptors run around the replay: they see one request and the final answer", async () => {
    const { api: client, session } = await api()
    const statuses: number[] = []
    let requests = 0
    client.interceptors.request.use((config) => {
      requests++
      config.headers.set('x-trace', 'on')
      return config
    })
    client.interceptors.response.use((response) => (statuses.push(response.status), response))
    server.use(
      http.get(`${BASE_URL}/api/traced`, ({ request }) =>
        request.headers.get('authorization') === `Bearer ${auth.getSession()!.accessToken}` && auth.getSession() !== session
          ? HttpResponse.json({ trace: request.headers.get('x-trace') })
          : new HttpResponse(null, { status: 401 }),
      ),
    )
    expect((await client.get('/api/traced')).data).toEqual({ trace: 'on' })
    expect(requests).toBe(1)
    expect(statuses).toEqual([200])
    expect(mock().counts.refresh).toBe(1)
  })
})
