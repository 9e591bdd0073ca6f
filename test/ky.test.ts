import ky, { HTTPError } from 'ky'
import { http, HttpResponse } from 'msw'
import { afterEach, describe, expect, it } from 'vitest'
import { createAuthClient, type AuthClient } from '../src/index.js'
import { withAuth } from '../src/ky/index.js'
import { BASE_URL, useMockAuthServer } from './helpers.js'

const { server, mock } = useMockAuthServer()
const ADA = { username: 'ada', password: 'lovelace' }

let auth: AuthClient
afterEach(() => auth?.destroy())

async function api(options: Parameters<typeof ky.create>[0] = {}) {
  auth = createAuthClient({ baseUrl: BASE_URL, crossTab: false })
  const session = await auth.login(ADA)
  return { api: withAuth(ky.create({ prefix: BASE_URL, retry: { limit: 2, delay: () => 0 }, ...options }), auth), session }
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

describe('tokenkeeper/ky', () => {
  it('attaches the token to the allowed origin and not to others', async () => {
    const { api: client, session } = await api()
    const seen: (string | null)[] = []
    server.use(
      http.get('https://elsewhere.example.org/x', ({ request }) => {
        seen.push(request.headers.get('authorization'))
        return HttpResponse.json({})
      }),
    )
    expect(await client.get('api/me').json()).toEqual({ sub: 'ada' })
    await ky.create().extend({ fetch: auth.fetch }).get('https://elsewhere.example.org/x')
    expect(seen).toEqual([null])
    expect(session.accessToken).toBeTruthy()
  })

  it('20 parallel calls that get 401 share one refresh, and all succeed', async () => {
    const { api: client, session } = await api()
    const calls = rejectsFirstToken('api/data', session.accessToken)
    const results = await Promise.all(Array.from({ length: 20 }, () => client.get('api/data').json()))
    expect(results).toEqual(Array(20).fill({ ok: true }))
    expect(mock().counts.refresh).toBe(1)
    expect(calls.filter((c) => c === `Bearer ${session.accessToken}`)).toHaveLength(20)
    expect(calls).toHaveLength(40)
  })

  it("ky's own retry and the refresh retry do not multiply", async () => {
    const { api: client, session } = await api()
    let answers = 0
    // 401 to the old token, then one 503 (ky retries it), then 200.
    const calls = rejectsFirstToken('api/flaky', session.accessToken, () =>
      ++answers === 1 ? new HttpResponse(null, { status: 503 }) : HttpResponse.json({ ok: true }),
    )
    expect(await client.get('api/flaky').json()).toEqual({ ok: true })
    expect(calls).toHaveLength(3)
    expect(mock().counts.refresh).toBe(1)
  })

  it('a 401 that survives the refresh is not retried again by ky, and throws its HTTPError', async () => {
    const { api: client } = await api()
    let calls = 0
    server.use(
      http.get(`${BASE_URL}/api/locked`, () => {
        calls++
        return new HttpResponse(null, { status: 401 })
      }),
    )
    const error = await client.get('api/locked').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HTTPError)
    expect((error as HTTPError).response.status).toBe(401)
    expect(calls).toBe(2)
    expect(mock().counts.refresh).toBe(1)
  })

  it('throwHttpErrors: false hands the final response back as ky users expect', async () => {
    const { api: client } = await api({ throwHttpErrors: false })
    server.use(http.get(`${BASE_URL}/api/missing`, () => HttpResponse.json({ error: 'nope' }, { status: 404 })))
    const response = await client.get('api/missing')
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ error: 'nope' })
  })

  it('replays a JSON body intact after a 401', async () => {
    const { api: client, session } = await api()
    const bodies: unknown[] = []
    server.use(
      http.post(`${BASE_URL}/api/orders`, async ({ request }) => {
        bodies.push(await request.json())
        return request.headers.get('authorization') === `Bearer ${session.accessToken}`
          ? new HttpResponse(null, { status: 401 })
          : HttpResponse.json({ created: true }, { status: 201 })
      }),
    )
    expect(await client.post('api/orders', { json: { item: 'tea' } }).json()).toEqual({ created: true })
    expect(bodies).toEqual([{ item: 'tea' }, { item: 'tea' }])
  })
})
