// @vitest-environment node
import { createHash, randomBytes } from 'node:crypto'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startOidcProvider } from './support/oidcProvider.mjs'
import type { OidcProviderFixture, OidcProviderOptions } from './support/oidcProvider.mjs'

// The OpenID Provider fixture against itself: a real oidc-provider, driven from Node with plain
// fetch the way a browser app would drive it.
const REDIRECT_URI = 'http://localhost:5173/callback'
const APP_ORIGIN = 'http://localhost:5173'

interface Discovery {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  revocation_endpoint: string
  end_session_endpoint: string
  userinfo_endpoint: string
  jwks_uri: string
  code_challenge_methods_supported: string[]
  authorization_response_iss_parameter_supported: boolean
  [field: string]: unknown
}
interface TokenResponse {
  access_token: string
  token_type: string
  expires_in: number
  scope: string
  id_token?: string
  refresh_token?: string
}
interface ErrorResponse {
  error: string
  error_description: string
}

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

const discover = async (op: OidcProviderFixture) =>
  (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as Discovery

function authorizationUrl(op: OidcProviderFixture, challenge: string, params: Record<string, string | undefined> = {}) {
  const url = new URL(`${op.issuer}/auth`)
  const all = { client_id: op.clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid profile email', state: 'state-1', nonce: 'nonce-1', code_challenge: challenge, code_challenge_method: 'S256', ...params }
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value)
  return url.href
}

/** POSTs a form as a browser app's fetch would: from APP_ORIGIN. */
async function post<T>(url: string, fields: Record<string, string>, origin: string = APP_ORIGIN) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin }, body: new URLSearchParams(fields) })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, body: (text ? JSON.parse(text) : undefined) as T }
}

const callbackParams = (location: string) => Object.fromEntries(new URL(location).searchParams)

/** Logs in through the authorization endpoint and redeems the code. */
async function signIn(op: OidcProviderFixture, params: Record<string, string | undefined> = {}) {
  const { verifier, challenge } = pkce()
  const callback = await op.authorize(authorizationUrl(op, challenge, params))
  const { code } = callbackParams(callback)
  const response = await post<TokenResponse>(`${op.issuer}/token`, { grant_type: 'authorization_code', client_id: op.clientId, code: code ?? '', redirect_uri: REDIRECT_URI, code_verifier: verifier })
  expect(response.status).toBe(200)
  return response.body
}

const refresh = (op: OidcProviderFixture, refreshToken: string) =>
  post<TokenResponse & ErrorResponse>(`${op.issuer}/token`, { grant_type: 'refresh_token', client_id: op.clientId, refresh_token: refreshToken })

const userinfo = (op: OidcProviderFixture, accessToken: string) =>
  fetch(`${op.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } }).then((r) => r.status)

const invalidGrant = { error: 'invalid_grant', error_description: 'grant request is invalid' }

const started: OidcProviderFixture[] = []
async function start(options?: OidcProviderOptions) {
  const op = await startOidcProvider(options)
  started.push(op)
  return op
}
afterAll(async () => {
  await Promise.all(started.splice(0).map((op) => op.close()))
})

describe('oidcProvider fixture', () => {
  let op: OidcProviderFixture
  beforeAll(async () => {
    op = await start()
  })
  beforeEach(() => {
    op.clearCookies()
    op.setUser('ada')
    op.resetEvents()
  })
  afterEach(() => {
    expect(op.events.serverErrors).toEqual([])
  })

  it('advertises the endpoints, S256 only and the iss parameter', async () => {
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(await discover(op)).toMatchObject({
      issuer: op.issuer,
      authorization_endpoint: `${op.issuer}/auth`,
      token_endpoint: `${op.issuer}/token`,
      revocation_endpoint: `${op.issuer}/token/revocation`,
      end_session_endpoint: `${op.issuer}/session/end`,
      userinfo_endpoint: `${op.issuer}/me`,
      jwks_uri: `${op.issuer}/jwks`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
    })
  })

  it('runs code + PKCE, rotates refresh tokens, and revokes the grant when a rotated one comes back', async () => {
    const { verifier, challenge } = pkce()
    const callback = await op.authorize(authorizationUrl(op, challenge))
    expect(callback.startsWith(`${REDIRECT_URI}?`)).toBe(true)
    const { code, state, iss } = callbackParams(callback)
    expect({ state, iss }).toEqual({ state: 'state-1', iss: op.issuer })
    expect(op.cookieNames()).toContain('_session')

    const exchanged = await post<TokenResponse>(`${op.issuer}/token`, { grant_type: 'authorization_code', client_id: 'spa', code: code ?? '', redirect_uri: REDIRECT_URI, code_verifier: verifier })
    expect(exchanged.status).toBe(200)
    expect(exchanged.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
    const first = exchanged.body
    expect(first).toMatchObject({ token_type: 'Bearer', expires_in: 60, scope: 'openid profile email' })
    expect(first.access_token).toMatch(/^[\w-]{43}$/) // opaque, not a JWT
    expect(first.refresh_token).toMatch(/^[\w-]{43}$/)
    const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`))
    const { payload } = await jwtVerify(first.id_token ?? '', jwks, { issuer: op.issuer, audience: 'spa' })
    expect(payload).toMatchObject({ sub: 'ada', name: 'Ada Lovelace', email: 'ada@example.com', nonce: 'nonce-1' })

    const second = await refresh(op, first.refresh_token ?? '')
    expect(second.status).toBe(200)
    expect(second.body).toMatchObject({ token_type: 'Bearer', expires_in: 60, scope: 'openid profile email' })
    expect(second.body.id_token).toEqual(expect.any(String)) // a new ID token on every refresh
    expect(second.body.refresh_token).not.toBe(first.refresh_token)
    const third = await refresh(op, second.body.refresh_token ?? '')
    expect(third.status).toBe(200)
    expect(await userinfo(op, third.body.access_token)).toBe(200)
    expect(op.events.grants).toEqual({ authorization_code: 1, refresh_token: 2 })

    const reused = await refresh(op, first.refresh_token ?? '')
    expect(reused.status).toBe(400)
    expect(reused.body).toEqual(invalidGrant)
    expect(op.events.refreshTokenReuse).toBe(1)
    expect(op.events.grantRevoked).toHaveLength(1)
    expect(op.events.errors).toContain('grant.error InvalidGrant: grant request is invalid (refresh token already used)')

    // the whole grant went: the newest refresh token and its access token too
    expect(await op.provider.RefreshToken.find(third.body.refresh_token ?? '')).toBeUndefined()
    const newest = await refresh(op, third.body.refresh_token ?? '')
    expect(newest.status).toBe(400)
    expect(newest.body).toEqual(invalidGrant)
    expect(op.events.grantErrors.at(-1)).toEqual({ grantType: 'refresh_token', error: 'invalid_grant', name: 'InvalidGrant', detail: 'refresh token not found' })
    expect(await userinfo(op, third.body.access_token)).toBe(401)
  })

  it('refuses a missing or wrong code_verifier and another redirect_uri without spending the code, and revokes on a second redemption', async () => {
    const { verifier, challenge } = pkce()
    const { code = '' } = callbackParams(await op.authorize(authorizationUrl(op, challenge)))
    const redeem = (fields: Record<string, string>) => post<ErrorResponse>(`${op.issuer}/token`, { grant_type: 'authorization_code', client_id: 'spa', code, redirect_uri: REDIRECT_URI, ...fields })

    const attempts: Record<string, string>[] = [{}, { code_verifier: pkce().verifier }, { code_verifier: verifier, redirect_uri: `${APP_ORIGIN}/other` }]
    for (const fields of attempts) {
      const refused = await redeem(fields)
      expect(refused.status).toBe(400)
      expect(refused.body).toEqual(invalidGrant)
    }
    expect(op.events.grantErrors.map((e) => e.detail)).toEqual(['PKCE verification failed', 'PKCE verification failed', 'authorization code redirect_uri mismatch'])

    const issued = await redeem({ code_verifier: verifier })
    expect(issued.status).toBe(200)
    const tokens = issued.body as unknown as TokenResponse
    const again = await redeem({ code_verifier: verifier })
    expect(again.status).toBe(400)
    expect(again.body).toEqual(invalidGrant)
    expect(op.events.codeReuse).toBe(1)
    expect(op.events.grantRevoked).toHaveLength(1)
    expect((await refresh(op, tokens.refresh_token ?? '')).status).toBe(400)
    expect(await userinfo(op, tokens.access_token)).toBe(401)
  })

  it('requires PKCE with S256 at the authorization endpoint', async () => {
    const { challenge, verifier } = pkce()
    expect(callbackParams(await op.authorize(authorizationUrl(op, challenge, { code_challenge: undefined, code_challenge_method: undefined })))).toMatchObject({
      error: 'invalid_request',
      error_description: 'Authorization Server policy requires PKCE to be used for this request',
      state: 'state-1',
      iss: op.issuer,
    })
    expect(callbackParams(await op.authorize(authorizationUrl(op, verifier, { code_challenge_method: 'plain' })))).toMatchObject({ error: 'invalid_request' })
  })

  it('revokes a refresh token, and with it the grant', async () => {
    const tokens = await signIn(op)
    const revoked = await post(`${op.issuer}/token/revocation`, { client_id: 'spa', token: tokens.refresh_token ?? '', token_type_hint: 'refresh_token' })
    expect(revoked).toMatchObject({ status: 200, text: '' })
    expect(revoked.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
    expect(op.events.revocations).toBe(1)
    expect(op.events.grantRevoked).toHaveLength(1)
    expect((await refresh(op, tokens.refresh_token ?? '')).status).toBe(400)
    expect(await userinfo(op, tokens.access_token)).toBe(401)
  })

  it('ends the session at the provider: redirect with state, grant revoked, next login asks again', async () => {
    const tokens = await signIn(op)
    expect(op.events.interactions).toBe(1)
    await signIn(op) // logged in: straight through
    expect(op.events.interactions).toBe(1)

    const url = new URL(`${op.issuer}/session/end`)
    url.searchParams.set('id_token_hint', tokens.id_token ?? '')
    url.searchParams.set('post_logout_redirect_uri', `${APP_ORIGIN}/`)
    url.searchParams.set('state', 'bye')
    expect(await op.endSession(url.href)).toBe(`${APP_ORIGIN}/?state=bye`)
    expect(op.events.endSession).toBe(1)
    expect(op.events.grantRevoked).toHaveLength(1)
    expect(op.cookieNames()).not.toContain('_session')
    expect((await refresh(op, tokens.refresh_token ?? '')).status).toBe(400)

    await signIn(op)
    expect(op.events.interactions).toBe(2)
    // without a post_logout_redirect_uri (and without a session) it ends on the provider's page
    expect(await op.endSession(`${op.issuer}/session/end`)).toBe(`${op.issuer}/session/end/success`)
  })

  it('drops offline_access unless prompt=consent; with it the grant outlives logout', async () => {
    expect((await signIn(op, { scope: 'openid offline_access' })).scope).toBe('openid')
    const offline = await signIn(op, { scope: 'openid offline_access', prompt: 'consent' })
    expect(offline.scope).toBe('openid offline_access')
    expect(await op.endSession(`${op.issuer}/session/end?client_id=spa`)).toBe(`${op.issuer}/session/end/success`)
    expect((await refresh(op, offline.refresh_token ?? '')).status).toBe(200)
  })

  it('denies the next authorization on request, and logs in whom the test says', async () => {
    await signIn(op)
    op.denyNext('no thanks')
    const denied = callbackParams(await op.authorize(authorizationUrl(op, pkce().challenge)))
    expect(denied).toEqual({ error: 'access_denied', error_description: 'no thanks', state: 'state-1', iss: op.issuer })
    expect(op.events.errors).toContain('authorization.error AccessDenied: no thanks')

    op.setUser('grace')
    const { payload } = await jwtVerify((await signIn(op)).id_token ?? '', createRemoteJWKSet(new URL(`${op.issuer}/jwks`)))
    expect(payload).toMatchObject({ sub: 'grace', name: 'Grace Hopper' })
    expect(() => op.setUser('nobody')).toThrow(/unknown account/)
  })

  it('rejects with the status and the error when the provider answers a page instead of a redirect', async () => {
    await expect(op.authorize(authorizationUrl(op, pkce().challenge, { redirect_uri: 'http://evil.example/cb' }))).rejects.toThrow(
      /^authorize: 400 from \/auth: .*error: invalid_redirect_uri error_description: redirect_uri did not match/,
    )
  })
})

describe('oidcProvider fixture options', () => {
  it('answers only the allowed browser origins', async () => {
    const op = await start({ corsOrigins: [APP_ORIGIN] })
    const tokens = await signIn(op)
    const refused = await post<ErrorResponse>(`${op.issuer}/token`, { grant_type: 'refresh_token', client_id: 'spa', refresh_token: tokens.refresh_token ?? '' }, 'http://evil.example')
    expect(refused.status).toBe(400)
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    expect(refused.body).toEqual({ error: 'invalid_request', error_description: 'origin http://evil.example not allowed for client: spa' })
  })

  it('mounts the issuer below a path', async () => {
    const op = await start({ issuerPath: '/realms/test', accessTokenTtlSec: 5 })
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/realms\/test$/)
    const discovery = await discover(op)
    expect(discovery).toMatchObject({ issuer: op.issuer, token_endpoint: `${op.issuer}/token`, end_session_endpoint: `${op.issuer}/session/end` })
    const { challenge, verifier } = pkce()
    const { code = '', iss } = callbackParams(await op.authorize(authorizationUrl(op, challenge)))
    expect(iss).toBe(op.issuer)
    const tokens = await post<TokenResponse>(discovery.token_endpoint, { grant_type: 'authorization_code', client_id: 'spa', code, redirect_uri: REDIRECT_URI, code_verifier: verifier })
    expect(tokens.body.expires_in).toBe(5)
    await jwtVerify(tokens.body.id_token ?? '', createRemoteJWKSet(new URL(discovery.jwks_uri)), { issuer: op.issuer })
    expect((await fetch(`${new URL(op.issuer).origin}/.well-known/openid-configuration`)).status).toBe(404)
  })
})
