import { IDBFactory } from 'fake-indexeddb'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAuthClient, memoryStorage, type AuthClient, type AuthClientOptions, type Logger, type TokenStorage } from '../src/index.js'
import { dpop } from '../src/dpop/index.js'
import { oauth2 } from '../src/oauth2/index.js'
import { oidc } from '../src/oidc/index.js'
import { createJwtSigner } from '../src/testing/jwt.js'
import { createMockAuthServer } from '../src/testing/mockAuthServer.js'
import { BASE_URL, serialize, useTabs } from './helpers.js'
import { createDpopServer } from './support/dpopServer.js'

// The debug log must never hold a secret. Whole sessions run with the log on (a logger, and
// debug: true to the console) through every protocol; every secret is collected where it is
// issued or received, on the server's side of the wire (MSW's requests and mocked answers, and the
// authorization request the test's provider reads), never asked from the client; then every line
// logged and everything written to the console is searched for each of them, for each JWT's
// payload and signature, and for any 12 characters in a row of any of them.

const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())

/** The secrets seen on the wire, and the reads of bodies still under way. */
let secrets = new Set<string>()
let reading: Promise<void>[] = []
/** Every line logged, as `message JSON(details)`. */
let logged: string[] = []
let consoleSpies: ReturnType<typeof vi.spyOn>[] = []
const clients: AuthClient[] = []

/** Fields whose value is a secret, in a JSON or form body, and query parameters too. */
const SECRET_FIELDS = ['password', 'client_secret', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'id_token', 'idToken', 'id_token_hint', 'code', 'code_verifier', 'code_challenge', 'state', 'nonce', 'token']
const keep = (value: unknown): void => {
  if (typeof value === 'string' && value) secrets.add(value)
}
const harvestFields = (fields: Record<string, unknown> | URLSearchParams): void => {
  for (const name of SECRET_FIELDS) keep(fields instanceof URLSearchParams ? fields.get(name) : fields[name])
}
const harvestBody = (text: string): void => {
  if (!text) return
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === 'object' && body !== null) harvestFields(body as Record<string, unknown>)
  } catch {
    harvestFields(new URLSearchParams(text))
  }
}
const harvestHeaders = (headers: Headers): void => {
  keep(/^\S+ (\S+)$/.exec(headers.get('authorization') ?? '')?.[1]) // Bearer or DPoP token
  keep(headers.get('dpop')) // a proof
  keep(headers.get('dpop-nonce'))
}
const harvestUrl = (url: string): void => harvestFields(new URL(url).searchParams)

beforeAll(() => {
  msw.events.on('request:start', ({ request }) => {
    harvestUrl(request.url)
    harvestHeaders(request.headers)
    reading.push(request.clone().text().then(harvestBody))
  })
  msw.events.on('response:mocked', ({ response }) => {
    harvestHeaders(response.headers)
    reading.push(response.clone().text().then(harvestBody))
  })
})

beforeEach(() => {
  secrets = new Set()
  reading = []
  logged = []
  consoleSpies = (['debug', 'log', 'info', 'warn', 'error'] as const).map((method) => vi.spyOn(console, method).mockImplementation(() => undefined))
  vi.stubGlobal('indexedDB', new IDBFactory())
})
afterEach(() => {
  for (const auth of clients.splice(0)) auth.destroy()
  msw.resetHandlers()
})

const logger: Logger = (message, details) => void logged.push(`${message} ${JSON.stringify(details) ?? ''}`)

/** The pieces of a secret to look for: itself and, for a JWT, its payload and signature. */
const pieces = (secret: string): string[] => {
  const parts = secret.split('.')
  return parts.length === 3 ? [secret, parts[1]!, parts[2]!].filter((part) => part.length >= 8) : [secret]
}

const WINDOW = 12

/** The secrets that appear in `text`: whole, as a JWT part, or as any 12 characters in a row. */
function leaked(text: string, candidates: Iterable<string>): string[] {
  const windows = new Set<string>()
  for (let at = 0; at + WINDOW <= text.length; at++) windows.add(text.slice(at, at + WINDOW))
  const found: string[] = []
  for (const secret of candidates) {
    let seen = pieces(secret).some((piece) => text.includes(piece))
    for (let at = 0; !seen && at + WINDOW <= secret.length; at++) seen = windows.has(secret.slice(at, at + WINDOW))
    if (seen) found.push(secret)
  }
  return found
}

/** Everything the log and the console got. */
const written = (): string => [...logged, ...consoleSpies.map((spy) => serialize(spy.mock.calls))].join('\n')

/** Waits for the bodies still being read, then checks the log against every secret collected. */
async function expectNoSecretLogged(supplied: string[], expected: { minSecrets: number; lines: string[] }): Promise<void> {
  await Promise.all(reading)
  for (const secret of supplied) secrets.add(secret)
  expect(secrets.size).toBeGreaterThanOrEqual(expected.minSecrets)
  const text = written()
  for (const line of expected.lines) expect(text.includes(line), `a line "${line}"`).toBe(true)
  expect(leaked(text, secrets)).toEqual([])
}

const random = (prefix: string): string => `${prefix}-${crypto.randomUUID()}`

describe('the leak search itself', () => {
  it('finds a secret logged whole, a JWT logged by its signature alone, 12 characters of a refresh token, and nothing in a clean log', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEiLCJqdGkiOiIxMjM0In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg'
    const refresh = 'rt-7-3f1c2b9e-8d4a-4c1e-9b0f-2a6d5e7c8b91'
    expect(leaked(`refresh done {"token":"${jwt}"}`, [jwt])).toEqual([jwt])
    expect(leaked(`refresh done {"sig":"${jwt.split('.')[2]}"}`, [jwt])).toEqual([jwt])
    expect(leaked(`refresh done {"rt":"…${refresh.slice(10, 22)}…"}`, [refresh])).toEqual([refresh])
    expect(leaked('refresh done {"sid":"lq3x9k2m1n","rotation":2}', [jwt, refresh])).toEqual([])
  })
})

const { openTab } = useTabs('debug-log-leak')

describe('the debug log holds no secret', () => {
  it('json: two tabs and more, login with a password, rotating refreshes, a 401 replay, a retry after a 500, storage failing and hanging, a tab restored from storage and one from the others, logout with revocation, then a refused refresh', async () => {
    const password = random('correct-horse-battery-staple')
    const querySecret = random('api-key')
    const mock = createMockAuthServer({ baseUrl: BASE_URL, accessTokenLifetimeSec: 2, users: { ada: password } })
    let unauthorized = 1
    msw.use(
      ...mock.handlers,
      http.get(`${BASE_URL}/api/data`, () => (unauthorized-- > 0 ? HttpResponse.json({ error: 'invalid_token' }, { status: 401 }) : HttpResponse.json({ ok: true }))),
    )
    /** A storage that throws or hangs on request. */
    const inner = memoryStorage()
    const trouble = { failing: false, hanging: false }
    const storage: TokenStorage = {
      getItem: (key) => inner.getItem(key),
      setItem: (key, value) => {
        if (trouble.failing) throw new DOMException('quota', 'QuotaExceededError')
        if (trouble.hanging) return new Promise<void>(() => {})
        return inner.setItem(key, value)
      },
      removeItem: (key) => inner.removeItem(key),
    }
    const fast: Partial<AuthClientOptions> = { retryMinDelayMs: 10, retryMaxDelayMs: 40, storageTimeoutMs: 50 }
    const a = openTab({ ...fast, logger, storage })
    const b = openTab({ ...fast, debug: true }) // to the console
    await Promise.all([a.ready, b.ready])

    await a.login({ username: 'ada', password })
    await vi.waitFor(() => expect(b.getSession()).not.toBeNull())
    await a.refresh()
    await vi.waitFor(() => expect(b.getSession()).toEqual(a.getSession()))
    await b.refresh() // through the leader tab
    const forced = mock.counts.refresh
    await vi.waitFor(() => expect(mock.counts.refresh).toBeGreaterThan(forced), { timeout: 3_000 }) // and one on schedule

    expect((await a.fetch(`${BASE_URL}/api/data?api_key=${querySecret}`)).status).toBe(200)

    mock.failNextRefreshes(1, { kind: 'server-error' })
    const retried = mock.refreshes().length
    await a.refresh().catch(() => undefined)
    await vi.waitFor(() => expect(mock.refreshes().slice(retried).map((attempt) => attempt.outcome)).toEqual(expect.arrayContaining(['injected', 'issued'])))

    trouble.failing = true
    await a.refresh()
    trouble.failing = false
    trouble.hanging = true
    await a.refresh()
    await vi.waitFor(() => expect(logged.some((line) => line.startsWith('storage did not answer'))).toBe(true))
    trouble.hanging = false
    await a.refresh()

    const fromStorage = openTab({ ...fast, logger, storage })
    const fromTabs = openTab({ ...fast, logger, tabSyncTimeoutMs: 1_000 })
    await Promise.all([fromStorage.ready, fromTabs.ready])
    expect(fromTabs.getSession()).not.toBeNull()

    expect(await b.logout()).toEqual({ revoked: true })
    await vi.waitFor(() => expect([a, fromStorage, fromTabs].map((tab) => tab.getSession())).toEqual([null, null, null]))

    await a.login({ username: 'ada', password })
    mock.failNextRefreshes(1, { kind: 'invalid_grant' })
    await expect(a.refresh()).rejects.toMatchObject({ code: 'session_expired' })

    // The harvest is complete: every token the server issued is among the secrets searched for.
    await Promise.all(reading)
    for (const issued of mock.issued()) expect([secrets.has(issued.accessToken), secrets.has(issued.refreshToken)]).toEqual([true, true])
    expect(consoleSpies[0]!.mock.calls.length).toBeGreaterThan(10) // b's lines went to console.debug
    await expectNoSecretLogged([password, querySecret], {
      minSecrets: 20,
      lines: [
        'restore: a session found in storage',
        'refresh scheduled',
        'refresh done',
        'refresh failed; retrying in the background',
        '401: replayed with a new token',
        'storage failed',
        'storage did not answer',
        'this tab leads now',
        'tab message sent',
        'tab message received',
        'tab message received {"type":"refresh-request"',
        'auth server: answered 204 (logout)',
        'session expired: its refresh was refused',
      ],
    })
  }, 20_000)

  it('oauth2: password grant, rotating refreshes, a 401 replay, a retry after a 500, RFC 7009 revocation of both tokens', async () => {
    const password = random('hunter2-but-longer')
    const mock = createMockAuthServer({ baseUrl: BASE_URL, users: { ada: password } })
    msw.use(...mock.handlers)
    let unauthorized = 1
    msw.use(http.get(`${BASE_URL}/api/data`, () => (unauthorized-- > 0 ? HttpResponse.json({ error: 'invalid_token' }, { status: 401 }) : HttpResponse.json({ ok: true }))))
    const auth = createAuthClient({ baseUrl: BASE_URL, protocol: oauth2({ clientId: 'spa', scope: 'api' }), crossTab: false, logger, retryMinDelayMs: 10, retryMaxDelayMs: 40 })
    clients.push(auth)
    await auth.login({ username: 'ada', password })
    await auth.refresh()
    await auth.refresh()
    mock.failNextRefreshes(1, { kind: 'server-error', status: 502 })
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'server', status: 502 })
    await vi.waitFor(() => expect(mock.refreshes().at(-1)?.outcome).toBe('issued'))
    expect((await auth.fetch(`${BASE_URL}/api/data`)).status).toBe(200)
    expect(await auth.logout()).toEqual({ revoked: true })
    expect(mock.counts.revoke).toBe(2) // the refresh token, then the access token
    await Promise.all(reading)
    for (const issued of mock.issued()) expect([secrets.has(issued.accessToken), secrets.has(issued.refreshToken)]).toEqual([true, true])
    await expectNoSecretLogged([password], { minSecrets: 8, lines: ['refresh done', 'refresh failed; retrying in the background', '401: replayed with a new token', 'auth server: answered 200 (logout)'] })
  })

  it('oidc: authorization code with PKCE, state and nonce, ID tokens, rotating refreshes, revocation and RP-initiated logout', async () => {
    const ISSUER = 'https://sso.example.com'
    const REDIRECT_URI = 'https://app.example.com/callback'
    const signer = createJwtSigner()
    const codes = new Map<string, { challenge: string; nonce: string }>()
    const live = new Set<string>()
    const sha256 = async (text: string) =>
      btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '')
    const issue = async (nonce: string) => {
      const iat = Math.floor(Date.now() / 1000)
      const refreshToken = random('oidc-rt')
      live.add(refreshToken)
      return {
        access_token: await signer.sign({ iss: ISSUER, sub: 'ada', aud: 'api', iat, exp: iat + 300, jti: crypto.randomUUID() }),
        refresh_token: refreshToken,
        id_token: await signer.sign({ iss: ISSUER, sub: 'ada', aud: 'spa', nonce, iat, exp: iat + 300 }),
        token_type: 'Bearer',
        expires_in: 300,
      }
    }
    msw.use(
      http.get(`${ISSUER}/.well-known/openid-configuration`, () =>
        HttpResponse.json({
          issuer: ISSUER,
          authorization_endpoint: `${ISSUER}/authorize`,
          token_endpoint: `${ISSUER}/token`,
          revocation_endpoint: `${ISSUER}/revoke`,
          end_session_endpoint: `${ISSUER}/logout`,
          code_challenge_methods_supported: ['S256'],
          authorization_response_iss_parameter_supported: true,
        }),
      ),
      http.post(`${ISSUER}/token`, async ({ request }) => {
        const form = new URLSearchParams(await request.text())
        if (form.get('grant_type') === 'authorization_code') {
          const attempt = codes.get(form.get('code') ?? '')
          codes.delete(form.get('code') ?? '')
          if (!attempt || attempt.challenge !== (await sha256(form.get('code_verifier') ?? ''))) return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })
          return HttpResponse.json(await issue(attempt.nonce))
        }
        const presented = form.get('refresh_token') ?? ''
        if (!live.delete(presented)) return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })
        const { id_token: _, ...tokens } = await issue('')
        return HttpResponse.json(tokens) // no new ID token: the session keeps its own
      }),
      http.post(`${ISSUER}/revoke`, async ({ request }) => {
        live.delete(new URLSearchParams(await request.text()).get('token') ?? '')
        return new HttpResponse(null, { status: 200 })
      }),
    )
    /** The provider's authorization endpoint, played here: it reads the request and sends the user back with a code. */
    const authorize = async (url: string): Promise<string> => {
      const params = new URL(url).searchParams
      const code = random('code')
      codes.set(code, { challenge: params.get('code_challenge')!, nonce: params.get('nonce')! })
      harvestUrl(url) // state, nonce and challenge, as the provider received them
      keep(code)
      return `${REDIRECT_URI}?code=${code}&state=${params.get('state')}&iss=${encodeURIComponent(ISSUER)}`
    }
    const navigations: string[] = []
    const client = () => {
      const auth = createAuthClient({
        baseUrl: ISSUER,
        crossTab: false,
        logger,
        protocol: oidc({ issuer: ISSUER, clientId: 'spa', redirectUri: REDIRECT_URI, scope: 'openid offline_access', postLogoutRedirectUri: 'https://app.example.com/', navigate: (url) => navigations.push(url) }),
      })
      clients.push(auth)
      return auth
    }
    history.replaceState(null, '', 'https://app.example.com/orders?page=2')
    void client().login({ returnTo: '/orders?page=2' })
    await vi.waitFor(() => expect(navigations).toHaveLength(1))
    history.replaceState(null, '', await authorize(navigations[0]!))
    const auth = client()
    expect(await auth.ready).not.toBeNull()
    await auth.refresh()
    await auth.refresh()
    expect(await auth.logout()).toEqual({ revoked: true })
    await vi.waitFor(() => expect(navigations).toHaveLength(2)) // to the provider's logout, with id_token_hint and state
    harvestUrl(navigations[1]!)
    expect(new URL(navigations[1]!).searchParams.get('id_token_hint')).toMatch(/^ey/)
    await expectNoSecretLogged([], {
      minSecrets: 12,
      lines: ['oidc: leaving for the provider to log in', 'oidc: completing the login the provider sent back', 'refresh done', "oidc: leaving for the provider's logout (RP-initiated)"],
    })
  })

  it('dpop: proofs on every token request and API call, server nonces, rotating refreshes, key deleted at logout', async () => {
    const server = createDpopServer({ baseUrl: BASE_URL, requireNonce: true })
    msw.use(...server.handlers)
    const auth = createAuthClient(dpop({ baseUrl: BASE_URL, crossTab: false, logger }))
    clients.push(auth)
    await auth.login({ username: 'ada', password: 'lovelace' })
    expect((await auth.fetch(`${BASE_URL}/api/me`)).status).toBe(200)
    await auth.refresh()
    server.rotateNonce()
    await auth.refresh()
    expect((await auth.fetch(`${BASE_URL}/api/me`)).status).toBe(200)
    expect(await auth.logout()).toEqual({ revoked: true })
    await expectNoSecretLogged(['lovelace'], {
      minSecrets: 12,
      lines: ['dpop: a proof for the login request', 'dpop: the auth server asked for a nonce; sending once more', "dpop: the revoked session's key deleted", 'refresh done'],
    })
    const isProof = (secret: string) => secret.split('.').length === 3 && atob(secret.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/')).includes('"dpop+jwt"')
    expect([...secrets].filter(isProof).length).toBeGreaterThanOrEqual(6) // the proofs were searched for too
  })
})
