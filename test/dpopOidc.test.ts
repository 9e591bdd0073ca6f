// @vitest-environment-options { "url": "http://localhost:5173/orders" }
import { randomBytes } from 'node:crypto'
import { IDBFactory } from 'fake-indexeddb'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAuthClient, type AuthClient } from '../src/index.js'
import { dpop } from '../src/dpop/index.js'
import { oidc } from '../src/oidc/index.js'
import { startOidcProvider, type OidcProviderFixture } from './support/oidcProvider.mjs'

// dpop() over the OpenID Connect protocol, against oidc-provider's own DPoP (RFC 9449) checks:
// its token endpoint binds the tokens to the key (the client is registered with
// dpop_bound_access_tokens, so a token request without a proof is refused), and its userinfo
// endpoint is the resource server that must refuse a token without its proof.
const APP = 'http://localhost:5173'
const REDIRECT_URI = `${APP}/callback`

let provider: OidcProviderFixture
/** Whether the provider demands its nonce in every proof (read at each request). */
let requireNonce = false
beforeAll(async () => {
  provider = await startOidcProvider({
    redirectUris: [REDIRECT_URI],
    features: { dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => requireNonce } },
    client: { dpop_bound_access_tokens: true },
  })
})
afterAll(() => provider.close())

const clients: AuthClient[] = []
let navigations: string[] = []
/** Every request as it left the client: method, URL without query, and its DPoP-related headers. */
let sent: { url: string; authorization: string | null; proof: string | null; status?: number }[] = []

beforeEach(() => {
  navigations = []
  sent = []
  requireNonce = false
  sessionStorage.clear()
  history.replaceState(null, '', `${APP}/orders`)
  provider.resetEvents()
  vi.stubGlobal('indexedDB', new IDBFactory())
})
afterEach(() => {
  for (const auth of clients.splice(0)) auth.destroy()
  vi.unstubAllGlobals()
})

const wire: typeof fetch = async (input, init) => {
  const request = new Request(input, init)
  const entry: (typeof sent)[number] = { url: request.url.split('?')[0]!, authorization: request.headers.get('authorization'), proof: request.headers.get('dpop') }
  sent.push(entry)
  const response = await fetch(input, init)
  entry.status = response.status
  return response
}

function client(): AuthClient {
  const auth = createAuthClient(
    dpop({
      baseUrl: provider.issuer,
      crossTab: false,
      fetch: wire,
      protocol: oidc({ issuer: provider.issuer, clientId: provider.clientId, redirectUri: REDIRECT_URI, navigate: (url) => navigations.push(url) }),
    }),
  )
  clients.push(auth)
  return auth
}

async function logIn(): Promise<AuthClient> {
  const pending = client().login()
  pending.catch(() => {})
  await expect.poll(() => navigations.length, { timeout: 5_000 }).toBe(1) // discovery, a key, PKCE and IndexedDB first
  const callback = await provider.authorize(navigations[0]!)
  history.replaceState(null, '', callback)
  const auth = client()
  const errors: unknown[] = []
  auth.on('error', (error) => errors.push(error))
  await auth.ready
  expect(auth.getSession(), `${errors.join()} ${JSON.stringify(provider.events.log)}`).not.toBeNull()
  return auth
}

const userinfo = () => `${provider.issuer}/me`

describe('dpop() with oidc() against oidc-provider', () => {
  it('the code exchange carries a proof, the provider binds the tokens (token_type DPoP), and userinfo answers to auth.fetch', async () => {
    const auth = await logIn()
    const exchange = sent.find((request) => request.url.endsWith('/token'))!
    expect(exchange.proof).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    const response = await auth.fetch(userinfo())
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ sub: 'ada' })
    expect(sent.at(-1)!.authorization).toMatch(/^DPoP /)
  })

  it('the provider refuses the token replayed without a proof, as Bearer, or with a proof from another key', async () => {
    const auth = await logIn()
    await auth.fetch(userinfo())
    const token = auth.getSession()!.accessToken
    // 400 invalid_request (a DPoP token with no proof at all) or 401 invalid_token: refused either way.
    expect([400, 401]).toContain((await fetch(userinfo(), { headers: { authorization: `DPoP ${token}` } })).status)
    expect([400, 401]).toContain((await fetch(userinfo(), { headers: { authorization: `Bearer ${token}` } })).status)
    const { SignJWT, exportJWK, generateKeyPair, base64url } = await import('jose')
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    const ath = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))))
    const proof = await new SignJWT({ htm: 'GET', htu: userinfo(), ath, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey)
    expect((await fetch(userinfo(), { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status).toBe(401)
    expect((await auth.fetch(userinfo())).status).toBe(200)
  })

  it('with nonces required: each first request is answered use_dpop_nonce and sent once more with the nonce; login, userinfo and refresh all pass', async () => {
    requireNonce = true
    const auth = await logIn()
    const tokenCalls = sent.filter((request) => request.url.endsWith('/token'))
    expect(tokenCalls.map((request) => request.status)).toEqual([400, 200])
    expect((await auth.fetch(userinfo())).status).toBe(200)
    await auth.refresh()
    expect(provider.events.grants.refresh_token).toBe(1)
    expect((await auth.fetch(userinfo())).status).toBe(200)
    // The nonce learned from the token endpoint served the provider's other endpoints on that origin too.
    expect(sent.filter((request) => request.url.endsWith('/me')).map((request) => request.status)).toEqual([200, 200])
  })

  it('a refresh rotates the tokens under the same key, and the old access token stops at the provider', async () => {
    const auth = await logIn()
    const before = auth.getSession()!.accessToken
    await auth.refresh()
    expect(auth.getSession()!.accessToken).not.toBe(before)
    expect((await auth.fetch(userinfo())).status).toBe(200)
  })

  it('logout revokes at the provider and the refresh token is dead afterwards', async () => {
    const auth = await logIn()
    const { revoked } = await auth.logout()
    expect(revoked).toBe(true)
    expect(provider.events.revocations).toBeGreaterThan(0)
  })
})
