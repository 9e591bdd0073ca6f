// @vitest-environment-options { "url": "http://localhost:5173/orders?page=2" }
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAuthClient, isAuthError, memoryStorage, type AuthClient, type AuthError } from '../src/index.js'
import { oidc, type OidcOptions } from '../src/oidc/index.js'
import { createFakeLocks } from './helpers.js'
import { startOidcProvider, type OidcProviderFixture } from './support/oidcProvider.mjs'

// The protocol's steps in happy-dom against a real OpenID Provider (oidc-provider, in-process on
// 127.0.0.1): the redirect itself is played by the fixture in Node (authorize()), and the page
// "comes back" by putting the callback URL in the address bar and creating a client, as a page
// load does.
const APP = 'http://localhost:5173'
const REDIRECT_URI = `${APP}/callback`

let provider: OidcProviderFixture
beforeAll(async () => {
  provider = await startOidcProvider({ redirectUris: [REDIRECT_URI], postLogoutRedirectUris: [`${APP}/`] })
})
afterAll(() => provider.close())

const clients: AuthClient[] = []
/** Where the protocol sent the page, newest last. */
let navigations: string[] = []
/** Every request the clients made, as `METHOD url`. */
let requests: string[] = []
/** Rewrites the provider's answers, as a hostile or broken server would. */
let rewrite: ((url: string, body: Record<string, unknown>) => Record<string, unknown>) | undefined

beforeEach(() => {
  navigations = []
  requests = []
  issuedRefreshTokens = []
  rewrite = undefined
  sessionStorage.clear()
  history.replaceState(null, '', `${APP}/orders?page=2`)
  provider.resetEvents()
})
afterEach(() => {
  for (const auth of clients.splice(0)) auth.destroy()
})

/** The refresh tokens the provider issued, newest last (the client never exposes its own). */
let issuedRefreshTokens: string[] = []

const fetchThroughRewrite: typeof fetch = async (input, init) => {
  const url = String(input instanceof Request ? input.url : input)
  requests.push(`${init?.method ?? 'GET'} ${url.split('?')[0]}`)
  const response = await fetch(input, init)
  const text = await response.text()
  if (!text) return new Response(null, { status: response.status })
  const answer = JSON.parse(text) as Record<string, unknown>
  if (typeof answer.refresh_token === 'string') issuedRefreshTokens.push(answer.refresh_token)
  const body = rewrite ? rewrite(url, answer) : answer
  return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } })
}

/** A page's client: the test app's settings, with the page's navigations recorded. */
function client(options: Partial<OidcOptions> = {}): AuthClient {
  const auth = createAuthClient({
    baseUrl: provider.issuer,
    crossTab: false,
    fetch: fetchThroughRewrite,
    protocol: oidc({ issuer: provider.issuer, clientId: provider.clientId, redirectUri: REDIRECT_URI, scope: 'openid profile email', navigate: (url) => navigations.push(url), ...options }),
  })
  clients.push(auth)
  return auth
}

const errorsOf = (auth: AuthClient): AuthError[] => {
  const errors: AuthError[] = []
  auth.on('error', (error) => errors.push(error))
  return errors
}

/** Starts a login on this page and returns the authorization request it leaves for. */
async function leaveForProvider(auth: AuthClient, credentials?: Record<string, string>): Promise<URL> {
  const before = navigations.length
  const pending = auth.login(credentials)
  pending.catch(() => {}) // it stays pending: the page is leaving
  await expect.poll(() => navigations.length, { timeout: 5_000 }).toBe(before + 1)
  return new URL(navigations.at(-1)!)
}

/** The page comes back from the provider: the callback URL in the address bar, and a new client. */
function returnTo(callback: string, options?: Partial<OidcOptions>): { auth: AuthClient; errors: AuthError[] } {
  history.replaceState(null, '', callback)
  const auth = client(options)
  return { auth, errors: errorsOf(auth) }
}

/** A whole login by redirect: the page's client after the callback, ready. */
async function logIn(options?: Partial<OidcOptions>, credentials?: Record<string, string>) {
  const request = await leaveForProvider(client(options), credentials)
  const callback = await provider.authorize(request.href)
  const page = returnTo(callback, options)
  await page.auth.ready
  return { ...page, request, callback }
}

describe('oidc: login by redirect against oidc-provider', () => {
  it('sends an authorization request with S256 PKCE, state, nonce and the exact redirect_uri, and keeps the attempt in sessionStorage', async () => {
    const request = await leaveForProvider(client())
    const params = request.searchParams
    expect(request.origin + request.pathname).toBe(`${provider.issuer}/auth`)
    expect(Object.fromEntries(params)).toMatchObject({ response_type: 'code', client_id: provider.clientId, redirect_uri: REDIRECT_URI, scope: 'openid profile email', code_challenge_method: 'S256' })
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/)
    expect(params.get('state')).toMatch(/^[\w-]{43}$/)
    expect(params.get('nonce')).toMatch(/^[\w-]{43}$/)
    const stored = sessionStorage.getItem(`tokenkeeper.oidc:${params.get('state')}`)
    expect(stored).not.toContain(params.get('code_challenge')) // the verifier is kept, never the challenge alone
    expect(JSON.parse(stored!)).toMatchObject({ nonce: params.get('nonce'), returnTo: `${APP}/orders?page=2` })
  })

  it('uses a fresh verifier, state and nonce for every attempt', async () => {
    const first = await leaveForProvider(client())
    const second = await leaveForProvider(client())
    for (const name of ['code_challenge', 'state', 'nonce']) expect(first.searchParams.get(name)).not.toBe(second.searchParams.get(name))
  })

  it('completes the login on the redirect page before ready settles: ID-token claims on the session, the URL back where the user was', async () => {
    const { auth, errors, callback } = await logIn()
    expect(new URL(callback).searchParams.get('iss')).toBe(provider.issuer)
    const session = auth.getSession()!
    expect(session.claims).toMatchObject({ sub: 'ada', name: 'Ada Lovelace', iss: provider.issuer, aud: provider.clientId })
    expect(session.accessToken.split('.')).toHaveLength(1) // opaque: the claims came from the ID token
    expect(session.expiresAt).toBeGreaterThan(Date.now())
    expect(location.href).toBe(`${APP}/orders?page=2`)
    expect(sessionStorage.length).toBe(0)
    expect(errors).toEqual([])
    expect(provider.events.grants.authorization_code).toBe(1)
    const me = await auth.fetch(`${provider.issuer}/me`)
    expect(await me.json()).toMatchObject({ sub: 'ada' })
  })

  it('lands on returnTo and passes extra authorization parameters', async () => {
    const { auth, request } = await logIn({ authorizationParams: { ui_locales: 'fr' } }, { returnTo: '/settings#profile', login_hint: 'ada@example.com' })
    expect(request.searchParams.get('ui_locales')).toBe('fr')
    expect(request.searchParams.get('login_hint')).toBe('ada@example.com')
    expect(location.href).toBe(`${APP}/settings#profile`)
    expect(auth.getSession()).not.toBeNull()
  })

  it('emits login once, and a second client on the same page (a double effect) redeems nothing', async () => {
    const request = await leaveForProvider(client())
    history.replaceState(null, '', await provider.authorize(request.href))
    const first = client()
    const second = client()
    const logins: string[] = []
    first.on('login', (session) => logins.push(session.claims.sub as string))
    const secondErrors = errorsOf(second)
    await Promise.all([first.ready, second.ready])
    expect(logins).toEqual(['ada'])
    expect(second.getSession()).toBeNull()
    expect(secondErrors).toEqual([])
    expect(provider.events.grants.authorization_code).toBe(1)
  })

  it('refuses a callback replayed after it completed (the same URL again): invalid_callback, no second redemption', async () => {
    const { callback } = await logIn()
    const replay = returnTo(callback)
    expect(await replay.auth.ready).toBeNull()
    expect(replay.errors.map((error) => error.code)).toEqual(['invalid_callback'])
    expect(provider.events.grants.authorization_code).toBe(1)
    expect(location.search).not.toContain('code=')
  })

  it.each([
    ['a wrong state', (url: URL) => url.searchParams.set('state', 'made-up')],
    ['no state', (url: URL) => url.searchParams.delete('state')],
    ['an iss of another issuer', (url: URL) => url.searchParams.set('iss', 'https://evil.example.com')],
    ['no iss, from a provider that promises one (RFC 9207)', (url: URL) => url.searchParams.delete('iss')],
  ])('refuses a callback with %s: invalid_callback, the code never sent', async (_, tamper) => {
    const request = await leaveForProvider(client())
    const callback = new URL(await provider.authorize(request.href))
    tamper(callback)
    requests = []
    const page = returnTo(callback.href)
    expect(await page.auth.ready).toBeNull()
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_callback'])
    expect(requests.filter((request) => request.includes('/token'))).toEqual([])
    expect(location.search).not.toMatch(/code=|state=/)
  })

  it('refuses an attempt older than 15 minutes', async () => {
    const request = await leaveForProvider(client())
    const key = `tokenkeeper.oidc:${request.searchParams.get('state')}`
    sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)!), at: Date.now() - 16 * 60_000 }))
    const page = returnTo(await provider.authorize(request.href))
    await page.auth.ready
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_callback'])
    expect(provider.events.grants.authorization_code).toBe(0)
  })

  it('turns access_denied into login_refused, with nothing stored', async () => {
    provider.denyNext()
    const request = await leaveForProvider(client())
    const callback = await provider.authorize(request.href)
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied')
    const page = returnTo(callback)
    expect(await page.auth.ready).toBeNull()
    expect(page.errors.map((error) => [error.code, isAuthError(error)])).toEqual([['login_refused', true]])
    expect(location.search).toBe('?page=2')
  })

  it.each([
    ['another audience', { aud: 'someone-else' }],
    ['several audiences and another azp', { aud: ['spa', 'api'], azp: 'api' }],
    ['another nonce', { nonce: 'replayed' }],
    ['another issuer', { iss: 'https://evil.example.com' }],
    ['no exp', { exp: undefined }],
  ])('refuses an ID token for %s: invalid_response, no session', async (_, claims) => {
    const request = await leaveForProvider(client())
    const callback = await provider.authorize(request.href)
    rewrite = (url, body) => (url.endsWith('/token') && typeof body.id_token === 'string' ? { ...body, id_token: withClaims(body.id_token, claims) } : body)
    const page = returnTo(callback)
    expect(await page.auth.ready).toBeNull()
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_response'])
    expect(page.errors[0]!.message).not.toContain('eyJ')
  })

  it('refuses a token answer whose token_type is not Bearer', async () => {
    const request = await leaveForProvider(client())
    const callback = await provider.authorize(request.href)
    rewrite = (url, body) => (url.endsWith('/token') ? { ...body, token_type: 'DPoP' } : body)
    const page = returnTo(callback)
    expect(await page.auth.ready).toBeNull()
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_response'])
  })

  it('refuses a discovery document for another issuer before leaving the page', async () => {
    rewrite = (url, body) => (url.includes('/.well-known/') ? { ...body, issuer: 'https://evil.example.com' } : body)
    const auth = client()
    await expect(auth.login()).rejects.toMatchObject({ code: 'invalid_response' })
    expect(navigations).toEqual([])
  })

  it('refuses a discovery document with an endpoint on plain http beyond localhost', async () => {
    rewrite = (url, body) => (url.includes('/.well-known/') ? { ...body, token_endpoint: 'http://evil.example.com/token' } : body)
    await expect(client().login()).rejects.toMatchObject({ code: 'invalid_response' })
    expect(navigations).toEqual([])
  })

  it('fetches discovery once for the page, and not at all with explicit endpoints', async () => {
    const auth = client()
    await leaveForProvider(auth)
    await leaveForProvider(auth)
    expect(requests.filter((request) => request.includes('/.well-known/'))).toHaveLength(1)
    requests = []
    const endpoints = { authorization: `${provider.issuer}/auth`, token: `${provider.issuer}/token` }
    await leaveForProvider(client({ endpoints }))
    expect(requests).toEqual([])
  })

  it('refuses a returnTo on another origin and parameters the protocol sets itself', async () => {
    const auth = client()
    await expect(auth.login({ returnTo: 'https://evil.example.com/' })).rejects.toMatchObject({ code: 'invalid_argument' })
    await expect(auth.login({ state: 'mine' })).rejects.toMatchObject({ code: 'invalid_argument' })
    // A password passed out of habit would end up in the provider's URL, and its logs.
    await expect(auth.login({ username: 'ada', password: 'lovelace' })).rejects.toMatchObject({ code: 'invalid_argument' })
    await expect(auth.login({ prompt: 5 as never })).rejects.toMatchObject({ code: 'invalid_argument' })
    expect(navigations).toEqual([])
    expect(() => oidc({ issuer: provider.issuer, clientId: 'spa', redirectUri: REDIRECT_URI, authorizationParams: { code_challenge_method: 'plain' } })).toThrow(TypeError)
    expect(() => oidc({ issuer: provider.issuer, clientId: '', redirectUri: REDIRECT_URI })).toThrow(/clientId/)
    expect(() => createAuthClient({ baseUrl: APP, protocol: oidc({ issuer: 'http://sso.example.com', clientId: 'spa', redirectUri: REDIRECT_URI }) })).toThrow(
      expect.objectContaining({ code: 'insecure_transport' }),
    )
  })

  it('a logout while the code is being redeemed wins: no session, the new tokens revoked, and the provider session ended too', async () => {
    const options = { postLogoutRedirectUri: `${APP}/` }
    const request = await leaveForProvider(client(options))
    const page = returnTo(await provider.authorize(request.href), options)
    await page.auth.logout()
    expect(await page.auth.ready).toBeNull()
    expect(page.errors.map((error) => error.code)).toEqual(['aborted'])
    await expect.poll(() => provider.events.revocations).toBeGreaterThanOrEqual(2)
    await expect.poll(() => navigations.filter((url) => url.includes('/session/end'))).toHaveLength(1)
    const endSession = new URL(navigations.at(-1)!)
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ/)
    // The refresh token of the overtaken login is dead at the provider.
    const refused = await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issuedRefreshTokens.at(-1)!, client_id: provider.clientId }),
    })
    expect(refused.status).toBe(400)
  })
})

describe('oidc: refresh, rotation and logout against oidc-provider', () => {
  it('refreshes twenty times with rotation: a new refresh token each time, no reuse, the same user', async () => {
    const { auth } = await logIn()
    const tokens = new Set([auth.getSession()!.accessToken])
    for (let index = 0; index < 20; index++) tokens.add((await auth.refresh()).accessToken)
    expect(tokens.size).toBe(21)
    expect(auth.getSession()!.claims).toMatchObject({ sub: 'ada' })
    expect(provider.events.grants.refresh_token).toBe(20)
    expect(provider.events.refreshTokenReuse).toBe(0)
    expect(provider.events.grantRevoked).toEqual([])
  })

  it('ends the session when a refreshed ID token names another user', async () => {
    const { auth } = await logIn()
    const expired: string[] = []
    auth.on('session-expired', ({ error }) => expired.push(error.code))
    rewrite = (url, body) => (url.endsWith('/token') && typeof body.id_token === 'string' ? { ...body, id_token: withClaims(body.id_token, { sub: 'mallory' }) } : body)
    await expect(auth.refresh()).rejects.toMatchObject({ code: 'session_expired' })
    expect(expired).toEqual(['session_expired'])
    expect(auth.getSession()).toBeNull()
  })

  it('logs out: revokes at the provider, then ends its session with id_token_hint, post_logout_redirect_uri and state', async () => {
    const { auth } = await logIn({ postLogoutRedirectUri: `${APP}/` })
    const refreshToken = issuedRefreshTokens.at(-1)!
    const result = await auth.logout()
    expect(result).toEqual({ revoked: true })
    expect(auth.getSession()).toBeNull()
    await expect.poll(() => navigations.length).toBe(2)
    const endSession = new URL(navigations.at(-1)!)
    expect(endSession.origin + endSession.pathname).toBe(`${provider.issuer}/session/end`)
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${APP}/`)
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ/)
    expect(endSession.searchParams.get('state')).toMatch(/^[\w-]{43}$/)
    const back = new URL(await provider.endSession(endSession.href))
    expect(back.origin + back.pathname).toBe(`${APP}/`)
    expect(back.searchParams.get('state')).toBe(endSession.searchParams.get('state'))
    // Back on the app: the client takes its own state out of the address bar, and only its own.
    history.replaceState(null, '', `${back.href}&tab=2`)
    await client().ready
    expect(location.href).toBe(`${APP}/?tab=2`)
    history.replaceState(null, '', `${APP}/?state=somebody-elses`)
    await client().ready
    expect(location.search).toBe('?state=somebody-elses')
    // The refresh token is dead at the provider.
    const answer = await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: provider.clientId }),
    })
    expect(answer.status).toBe(400)
  })

  it('without postLogoutRedirectUri, logout stays on the page', async () => {
    const { auth } = await logIn()
    await auth.logout()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(navigations).toHaveLength(1)
  })
})

/** The same JWT with some claims changed (unsigned changes: the client checks claims, not signatures). */
function withClaims(jwt: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = jwt.split('.')
  const decoded = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>
  return [header, Buffer.from(JSON.stringify({ ...decoded, ...claims })).toString('base64url'), signature].join('.')
}

describe('oidc: a second login while logged in (found by a real-browser probe)', () => {
  it('keeps the new session alive: the replaced one gives up its access token only, as both share the provider grant', async () => {
    // One storage for the pages of the app, as localStorage would be.
    const storage = memoryStorage()
    const page = () => {
      const auth = createAuthClient({ baseUrl: provider.issuer, crossTab: false, storage, fetch: fetchThroughRewrite, protocol: oidc({ issuer: provider.issuer, clientId: provider.clientId, redirectUri: REDIRECT_URI, navigate: (url) => navigations.push(url) }) })
      clients.push(auth)
      return auth
    }
    history.replaceState(null, '', await provider.authorize((await leaveForProvider(page())).href))
    const old = (await page().ready)!
    // The user logs in again in the same browser: the provider reuses its grant for the new code.
    history.replaceState(null, '', await provider.authorize((await leaveForProvider(page())).href))
    const second = page()
    const session = await second.ready
    expect(session?.accessToken).not.toBe(old.accessToken)
    await expect.poll(() => provider.events.revocations).toBeGreaterThanOrEqual(1)
    expect(provider.events.grantRevoked).toEqual([])
    // The new session works and refreshes; the old access token is dead.
    expect((await second.fetch(`${provider.issuer}/me`)).status).toBe(200)
    expect((await second.refresh()).accessToken).not.toBe(session!.accessToken)
    const stale = await fetch(`${provider.issuer}/me`, { headers: { authorization: `Bearer ${old.accessToken}` } })
    expect(stale.status).toBe(401)
  })
})

// Found by an outside probe of the entry; each kept as a plain regression test.
describe('oidc: what an outside probe found', () => {
  it('a browser whose history.replaceState throws still completes the login, and the attempt is gone', async () => {
    const request = await leaveForProvider(client())
    history.replaceState(null, '', await provider.authorize(request.href))
    const replaceState = history.replaceState
    history.replaceState = () => {
      throw new DOMException('too many calls', 'SecurityError')
    }
    try {
      const auth = client()
      expect((await auth.ready)?.claims).toMatchObject({ sub: 'ada' })
    } finally {
      history.replaceState = replaceState
    }
    expect(sessionStorage.length).toBe(0)
    expect(provider.events.grants.authorization_code).toBe(1)
  })

  it('a client destroyed while it completes the callback (React StrictMode) leaves the session to the next one, through the other tabs', async () => {
    const locks = createFakeLocks()
    const tab = { crossTab: true, locks, storageKey: `strict-${Date.now()}`, tabSyncTimeoutMs: 30 }
    const request = await leaveForProvider(client())
    history.replaceState(null, '', await provider.authorize(request.href))
    const first = createAuthClient({ baseUrl: provider.issuer, fetch: fetchThroughRewrite, protocol: oidc({ issuer: provider.issuer, clientId: provider.clientId, redirectUri: REDIRECT_URI }), ...tab })
    first.destroy()
    const second = createAuthClient({ baseUrl: provider.issuer, fetch: fetchThroughRewrite, protocol: oidc({ issuer: provider.issuer, clientId: provider.clientId, redirectUri: REDIRECT_URI }), ...tab })
    clients.push(first, second)
    await expect.poll(() => second.getSession()?.claims.sub, { timeout: 5_000 }).toBe('ada')
    expect(provider.events.grants.authorization_code).toBe(1)
    expect(provider.events.revocations).toBe(0)
  })

  it.each<[string, (url: string, body: Record<string, unknown>) => Record<string, unknown>]>([
    ['an ID token with another nonce', (url, body) => (url.endsWith('/token') ? { ...body, id_token: withClaims(body.id_token as string, { nonce: 'replayed' }) } : body)],
    ['token_type DPoP', (url, body) => (url.endsWith('/token') ? { ...body, token_type: 'DPoP' } : body)],
    ['a negative expires_in', (url, body) => (url.endsWith('/token') ? { ...body, expires_in: -5 } : body)],
  ])('tokens the client refuses after a 2xx (%s) are revoked at the provider, not left valid', async (_, answer) => {
    const request = await leaveForProvider(client())
    const callback = await provider.authorize(request.href)
    rewrite = answer
    const page = returnTo(callback)
    expect(await page.auth.ready).toBeNull()
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_response'])
    await expect.poll(() => provider.events.revocations).toBeGreaterThanOrEqual(1)
    rewrite = undefined
    const refused = await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issuedRefreshTokens.at(-1)!, client_id: provider.clientId }),
    })
    expect(refused.status).toBe(400)
  })

  it('endpoints given as paths resolve against baseUrl, as the option says', async () => {
    const auth = createAuthClient({
      baseUrl: provider.issuer,
      crossTab: false,
      protocol: oidc({ issuer: provider.issuer, clientId: provider.clientId, redirectUri: REDIRECT_URI, endpoints: { authorization: '/auth', token: '/token' }, navigate: (url) => navigations.push(url) }),
    })
    clients.push(auth)
    const request = await leaveForProvider(auth)
    expect(request.origin + request.pathname).toBe(`${provider.issuer}/auth`)
  })

  it('a returnTo that is not a URL is invalid_argument', async () => {
    await expect(client().login({ returnTo: 'http://[' })).rejects.toMatchObject({ code: 'invalid_argument' })
  })

  it('a login whose own scope asks for openid sends a nonce and checks the ID token, whatever the option says', async () => {
    const request = await leaveForProvider(client({ scope: 'profile' }), { scope: 'openid profile' })
    expect(request.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/)
    const callback = await provider.authorize(request.href)
    rewrite = (url, body) => (url.endsWith('/token') ? { ...body, id_token: withClaims(body.id_token as string, { nonce: 'other' }) } : body)
    const page = returnTo(callback, { scope: 'profile' })
    await page.auth.ready
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_response'])
  })

  it.each([
    ['a second iss', (url: URL) => url.searchParams.append('iss', 'https://evil.example.com')],
    ['a second state', (url: URL) => url.searchParams.append('state', 'made-up')],
  ])('a callback with %s is refused, its code never sent', async (_, tamper) => {
    const request = await leaveForProvider(client())
    const callback = new URL(await provider.authorize(request.href))
    tamper(callback)
    const page = returnTo(callback.href)
    await page.auth.ready
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_callback'])
    expect(provider.events.grants.authorization_code).toBe(0)
  })

  it.each([
    ['an empty verifier', { verifier: '' }],
    ['a time that is not a number', { at: String(Date.now()) }],
  ])('a stored attempt with %s is refused', async (_, change) => {
    const request = await leaveForProvider(client())
    const key = `tokenkeeper.oidc:${request.searchParams.get('state')}`
    sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)!), ...change }))
    const page = returnTo(await provider.authorize(request.href))
    await page.auth.ready
    expect(page.errors.map((error) => error.code)).toEqual(['invalid_callback'])
    expect(provider.events.grants.authorization_code).toBe(0)
  })

  it('a discovery document with an endpoint that is not a string is refused', async () => {
    rewrite = (url, body) => (url.includes('/.well-known/') ? { ...body, authorization_endpoint: [body.authorization_endpoint] } : body)
    await expect(client().login()).rejects.toMatchObject({ code: 'invalid_response' })
    expect(navigations).toEqual([])
  })
})

describe('oidc: an issuer with a path (Keycloak realms)', () => {
  let realm: OidcProviderFixture
  beforeAll(async () => {
    realm = await startOidcProvider({ redirectUris: [REDIRECT_URI], issuerPath: '/realms/shop' })
  })
  afterAll(() => realm.close())

  it('finds discovery under the path and logs in', async () => {
    expect(realm.issuer).toMatch(/\/realms\/shop$/)
    const options = { issuer: realm.issuer, clientId: realm.clientId, redirectUri: REDIRECT_URI, navigate: (url: string) => navigations.push(url) }
    const first = createAuthClient({ baseUrl: realm.issuer, crossTab: false, protocol: oidc(options) })
    clients.push(first)
    const request = await leaveForProvider(first)
    expect(request.href.startsWith(`${realm.issuer}/auth?`)).toBe(true)
    history.replaceState(null, '', await realm.authorize(request.href))
    const page = createAuthClient({ baseUrl: realm.issuer, crossTab: false, protocol: oidc(options) })
    clients.push(page)
    expect((await page.ready)?.claims).toMatchObject({ sub: 'ada', iss: realm.issuer })
  })
})

