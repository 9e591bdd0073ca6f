// @vitest-environment-options { "url": "https://app.example.com/" }
import { IDBFactory } from 'fake-indexeddb'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAuthClient, isAuthError, memoryStorage, type AuthClient, type AuthClientOptions } from '../src/index.js'
import { dpop } from '../src/dpop/index.js'
import { createDpopServer } from './support/dpopServer.js'
import { serialize } from './helpers.js'

const BASE_URL = 'https://api.example.com'
const API = `${BASE_URL}/api/me`
const ada = { username: 'ada', password: 'lovelace' }

const msw = setupServer()
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterAll(() => msw.close())

let server: ReturnType<typeof createDpopServer>
const useServer = (options: { requireNonce?: boolean } = {}) => {
  server = createDpopServer({ baseUrl: BASE_URL, ...options })
  msw.resetHandlers(...server.handlers)
  return server
}

/** What each request carried, in order: method, URL, Authorization scheme and whether a proof went with it. */
let sent: { method: string; url: string; authorization: string | null; proof: string | null }[] = []
const clients: AuthClient[] = []
let idb: IDBFactory

beforeEach(() => {
  sent = []
  useServer()
  // Every test its own IndexedDB: the "origin" the tabs of one test share.
  idb = new IDBFactory()
  vi.stubGlobal('indexedDB', idb)
})
afterEach(() => {
  for (const auth of clients.splice(0)) auth.destroy()
  vi.unstubAllGlobals()
})

/** A spy on the wire, beneath dpop(): it sees what leaves the client. */
const wire: typeof fetch = async (input, init) => {
  const request = new Request(input, init)
  sent.push({ method: request.method, url: request.url, authorization: request.headers.get('authorization'), proof: request.headers.get('dpop') })
  return fetch(input, init)
}

function client(options: Partial<AuthClientOptions> = {}): AuthClient {
  const auth = createAuthClient(dpop({ baseUrl: BASE_URL, crossTab: false, fetch: wire, ...options }))
  clients.push(auth)
  return auth
}

/** The newest key the origin's tabs share, as IndexedDB holds it (a short list, newest last). */
async function storedKey(storageKey = 'tokenkeeper.session'): Promise<{ id: string; privateKey: CryptoKey; jwk: JsonWebKey } | undefined> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = idb.open('tokenkeeper-dpop', 1)
    open.onupgradeneeded = () => open.result.createObjectStore('keys')
    open.onsuccess = () => resolve(open.result)
    open.onerror = () => reject(open.error)
  })
  return new Promise((resolve, reject) => {
    const get = db.transaction('keys').objectStore('keys').get(storageKey)
    get.onsuccess = () => {
      resolve((get.result as unknown[] | undefined)?.at(-1) as never) // the newest of the stored keys
      db.close()
    }
    get.onerror = () => reject(get.error)
  })
}

/** RFC 7638 thumbprint of a public key, as the servers bind tokens with. */
const thumbprint = async (jwk: JsonWebKey) => (await import('jose')).calculateJwkThumbprint(jwk as never)

describe('dpop(): proofs', () => {
  it('a login carries a proof that jose verifies: typ dpop+jwt, ES256, a public key only, htm, htu without query, iat now, a jti', async () => {
    const auth = client({ endpoints: { login: '/auth/login?via=form#top' } })
    await auth.login(ada)
    expect(sent[0]!.url).toMatch(/\/auth\/login\?via=form/)
    const [proof] = server.proofs
    expect(proof!.header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } })
    expect(Object.keys(proof!.header.jwk!).sort()).toEqual(['crv', 'kty', 'x', 'y'])
    expect(proof!.payload).toMatchObject({ htm: 'POST', htu: `${BASE_URL}/auth/login` })
    expect(Math.abs(proof!.payload.iat! - Date.now() / 1000)).toBeLessThan(5)
    expect(proof!.payload.ath).toBeUndefined()
    expect(proof!.payload.jti).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('the token becomes DPoP: auth.fetch sends Authorization: DPoP with a proof bound to it (ath, the key of its cnf.jkt)', async () => {
    const auth = client()
    await auth.login(ada)
    const response = await auth.fetch(`${API}?page=2#x`)
    expect(response.status).toBe(200)
    const call = sent.find((request) => request.url.startsWith(API))!
    expect(call.authorization).toMatch(/^DPoP \S+$/)
    const proof = server.proofs.at(-1)!
    expect(proof.payload).toMatchObject({ htm: 'GET', htu: API })
    expect(proof.payload.ath).toBeTypeOf('string')
    expect(proof.jkt).toBe(server.proofs[0]!.jkt) // the login's key
  })

  it('every request gets a fresh proof (a new jti each time)', async () => {
    const auth = client()
    await auth.login(ada)
    for (let i = 0; i < 3; i++) expect((await auth.fetch(API)).status).toBe(200)
    const jtis = server.proofs.map((proof) => proof.payload.jti)
    expect(new Set(jtis).size).toBe(4)
  })

  it('the method in the proof is the method as sent, for a Request with a body too', async () => {
    let seen: { method: string; body: string; htm: unknown } | undefined
    const auth = client()
    await auth.login(ada)
    msw.use(
      http.all(`${BASE_URL}/api/orders`, async ({ request }) => {
        const proof = request.headers.get('dpop')!
        seen = { method: request.method, body: await request.text(), htm: JSON.parse(atob(proof.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).htm }
        return HttpResponse.json({})
      }),
    )
    await auth.fetch(new Request(`${BASE_URL}/api/orders`, { method: 'PATCH', body: '{"n":1}' }))
    expect(seen).toEqual({ method: 'PATCH', body: '{"n":1}', htm: 'PATCH' })
    await auth.fetch(`${BASE_URL}/api/orders`, { method: 'delete' })
    expect(seen).toMatchObject({ method: 'DELETE', htm: 'DELETE' })
  })

  it('a request to an origin that is not allowed gets neither the token nor a proof', async () => {
    msw.use(http.get('https://elsewhere.example.net/data', () => HttpResponse.json({})))
    const auth = client()
    await auth.login(ada)
    await auth.fetch('https://elsewhere.example.net/data', { headers: { authorization: 'Bearer app-own-token' } })
    const call = sent.find((request) => request.url.startsWith('https://elsewhere'))!
    expect(call).toMatchObject({ authorization: 'Bearer app-own-token', proof: null })
  })

  it('a refresh carries a proof from the login key, and the refreshed token works', async () => {
    const auth = client()
    await auth.login(ada)
    await auth.refresh()
    expect(server.stats.refresh).toBe(1)
    expect(server.proofs[1]!.jkt).toBe(server.proofs[0]!.jkt)
    expect((await auth.fetch(API)).status).toBe(200)
  })

  it('an invalid_token 401 still means refresh, then the request again with a proof for the new token', async () => {
    const auth = client()
    await auth.login(ada)
    let first = true
    msw.use(
      http.get(API, () => {
        if (!first) return undefined
        first = false
        return HttpResponse.json({ error: 'invalid_token' }, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } })
      }),
    )
    expect((await auth.fetch(API)).status).toBe(200)
    expect(server.stats.refresh).toBe(1)
  })

  it('each login makes a new key', async () => {
    const auth = client()
    await auth.login(ada)
    const first = (await storedKey())!.id
    await auth.login(ada)
    expect((await storedKey())!.id).not.toBe(first)
    expect(new Set(server.proofs.map((proof) => proof.jkt)).size).toBe(2)
  })
})

/** A proof for `token` signed by a key of the thief's own: right in every way but the key. */
async function thiefProof(method: string, url: string, token?: string): Promise<string> {
  const { SignJWT, exportJWK, generateKeyPair, base64url } = await import('jose')
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const ath = token && base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))))
  return new SignJWT({ htm: method, htu: url, ath, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
    .setIssuedAt()
    .sign(privateKey)
}

describe('dpop(): a stolen token is useless', () => {
  it('the server refuses the token replayed without a proof, as Bearer, or with a proof from another key', async () => {
    const auth = client()
    await auth.login(ada)
    await auth.fetch(API)
    const token = sent.at(-1)!.authorization!.replace(/^DPoP /, '')
    expect((await fetch(API, { headers: { authorization: `DPoP ${token}` } })).status).toBe(401)
    expect((await fetch(API, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401)
    const forged = await fetch(API, { headers: { authorization: `DPoP ${token}`, dpop: await thiefProof('GET', API, token) } })
    expect(forged.status).toBe(401)
    expect(server.refused).toEqual(['invalid_dpop_proof', 'invalid_token', 'invalid_token'])
    // The session itself is untouched.
    expect((await auth.fetch(API)).status).toBe(200)
  })

  it('a stolen refresh token is refused with a proof from another key, and the session goes on', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    await auth.login(ada)
    const { refreshToken } = JSON.parse((await storage.getItem('tokenkeeper.session'))!)
    const url = `${BASE_URL}/auth/refresh`
    const stolen = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: await thiefProof('POST', url) },
      body: JSON.stringify({ refreshToken }),
    })
    expect(stolen.status).toBe(400)
    expect(server.live(refreshToken)).toBe(true)
    await auth.refresh()
    expect((await auth.fetch(API)).status).toBe(200)
  })
})

describe('dpop(): server nonces', () => {
  it('a login answered use_dpop_nonce is sent once more with the nonce, and later proofs carry it', async () => {
    useServer({ requireNonce: true })
    const auth = client()
    await auth.login(ada)
    expect(server.stats.login).toBe(2)
    expect(server.proofs[0]!.payload.nonce).toBe(server.nonce)
    expect((await auth.fetch(API)).status).toBe(200)
    expect(server.stats.api).toBe(1) // the nonce went with the first API request already (same origin)
  })

  it("an API's 401 use_dpop_nonce is sent once more with the new nonce, and no refresh", async () => {
    useServer({ requireNonce: true })
    const auth = client()
    await auth.login(ada)
    server.rotateNonce()
    expect((await auth.fetch(API)).status).toBe(200)
    expect(server.stats).toMatchObject({ api: 2, refresh: 0 })
    expect(server.proofs.at(-1)!.payload.nonce).toBe(server.nonce)
  })

  it('an API that refuses the nonce twice: auth.fetch rejects with AuthError server after two requests, no refresh, no loop', async () => {
    const auth = client()
    await auth.login(ada)
    // A new nonce with every refusal: tried twice, then given up.
    msw.use(http.get(API, () => HttpResponse.json({ error: 'use_dpop_nonce' }, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': crypto.randomUUID() } })))
    const error = await auth.fetch(API).catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('server')
    expect(sent.filter((request) => request.url === API)).toHaveLength(2)
    expect(server.stats.refresh).toBe(0)
  })

  it('an API that asks for a nonce and sends the same one again is not asked twice', async () => {
    const auth = client()
    await auth.login(ada)
    server.twists.nonceHeader = 'fixed-1'
    server.twists.refuseNonce = 10
    await auth.fetch(API).catch(() => undefined) // learns fixed-1, sends it once more
    const error = await auth.fetch(API).catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('server')
    expect(server.stats).toMatchObject({ api: 3, refresh: 0 })
  })

  it('a junk DPoP-Nonce header is ignored: never put in a proof, one retry at most, a clear error, nothing leaked', async () => {
    useServer({ requireNonce: true })
    server.twists.nonceHeader = 'bad "nonce" \\ with quotes'
    const auth = client()
    const error = await auth.login(ada).catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('server')
    const logins = sent.filter((request) => request.url.endsWith('/auth/login'))
    expect(logins).toHaveLength(2)
    for (const { proof } of logins) expect(JSON.parse(atob(proof!.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))).nonce).toBeUndefined()
    expect(auth.getSession()).toBeNull()
    expect(serialize(error)).not.toContain('lovelace')
  })

  it('a token endpoint that refuses the nonce twice: login rejects with server, not invalid_credentials', async () => {
    const auth = client()
    msw.use(http.post(`${BASE_URL}/auth/login`, () => HttpResponse.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': crypto.randomUUID() } })))
    const error = await auth.login(ada).catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('server')
    expect(sent.filter((request) => request.url.endsWith('/auth/login'))).toHaveLength(2)
  })

  it('a refresh refused for its nonce twice keeps the session (a transient failure, not session_expired)', async () => {
    const auth = client()
    await auth.login(ada)
    msw.use(http.post(`${BASE_URL}/auth/refresh`, () => HttpResponse.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': crypto.randomUUID() } })))
    const error = await auth.refresh().catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('server')
    expect(auth.getSession()).not.toBeNull()
    expect(await storedKey()).toBeDefined()
  })
})

describe('dpop(): bad answers', () => {
  it('a server that answers token_type Bearer to a DPoP login: invalid_response, no session, the tokens revoked', async () => {
    server.twists.tokenType = 'Bearer'
    const auth = client()
    const error = await auth.login(ada).catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('invalid_response')
    expect(auth.getSession()).toBeNull()
    expect(server.stats.logout).toBe(1)
    expect(await storedKey()).toBeUndefined()
  })

  it('a refresh answered with bearer tokens is refused and they are revoked; the session keeps its tokens', async () => {
    const auth = client()
    await auth.login(ada)
    const before = auth.getSession()!.accessToken
    server.twists.tokenType = 'bearer'
    const error = await auth.refresh().catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('invalid_response')
    expect(server.stats.logout).toBe(1)
    expect(auth.getSession()!.accessToken).toBe(before)
  })

  it('no token, refresh token, proof or password appears in errors or error events', async () => {
    const storage = memoryStorage()
    const auth = client({ storage })
    const seen: unknown[] = []
    for (const event of ['session-expired', 'error'] as const) auth.on(event, (payload: unknown) => seen.push(payload))
    await auth.login(ada)
    const record = JSON.parse((await storage.getItem('tokenkeeper.session'))!)
    server.twists.refuseNonce = 100
    const errors = [await auth.fetch(API).catch((e: unknown) => e), await auth.refresh().catch((e: unknown) => e)]
    msw.use(http.post(`${BASE_URL}/auth/refresh`, () => HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })))
    errors.push(await auth.refresh().catch((e: unknown) => e))
    expect(errors.every(isAuthError)).toBe(true)
    const text = [...seen, ...errors].map(serialize).join('\n')
    for (const secret of [record.accessToken, record.refreshToken, 'lovelace', ...sent.map((request) => request.proof!).filter(Boolean)]) {
      expect(text).not.toContain(secret)
    }
  })
})

describe('dpop(): the key', () => {
  it('is kept in IndexedDB with a private key that cannot be exported', async () => {
    const auth = client()
    await auth.login(ada)
    const key = (await storedKey())!
    expect(key.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('jwk', key.privateKey)).rejects.toThrow()
    expect(await thumbprint(key.jwk)).toBe(server.proofs[0]!.jkt)
  })

  it('a reload (a new client on the same storage) signs with the same key, and its requests pass', async () => {
    const storage = memoryStorage()
    const first = client({ storage })
    await first.login(ada)
    first.destroy()
    const second = client({ storage })
    await second.ready
    expect((await second.fetch(API)).status).toBe(200)
    await second.refresh()
    expect((await second.fetch(API)).status).toBe(200)
    expect(new Set(server.proofs.map((proof) => proof.jkt)).size).toBe(1)
  })

  it('a tab keeps its session key while another tab logs in with a new one, until it learns of the new session', async () => {
    const storage = memoryStorage()
    const tabA = client({ storage })
    await tabA.login(ada)
    await tabA.fetch(API) // tab A has used its token
    const tabB = client({ storage: memoryStorage() })
    await tabB.login(ada) // a new key in IndexedDB
    expect((await tabA.fetch(API)).status).toBe(200)
    expect(server.proofs.at(-1)!.jkt).toBe(server.proofs[0]!.jkt)
  })

  it('is deleted at logout, and the revocation carries a proof bound to the access token', async () => {
    const auth = client()
    await auth.login(ada)
    await auth.logout()
    expect(await storedKey()).toBeUndefined()
    const logout = sent.find((request) => request.url.endsWith('/auth/logout'))!
    expect(logout.authorization).toMatch(/^DPoP /)
    expect(server.proofs.at(-1)!.payload).toMatchObject({ htm: 'POST', htu: `${BASE_URL}/auth/logout`, ath: expect.any(String) })
  })

  it('a refresh refused for good ends the session but leaves its key (the client may yet find it renewed in another tab); the next login stores a newer one', async () => {
    const auth = client()
    await auth.login(ada)
    const expiredKey = (await storedKey())!.id
    msw.use(http.post(`${BASE_URL}/auth/refresh`, () => HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })), ...server.handlers.slice(0, 1))
    await auth.refresh().catch(() => undefined)
    expect(auth.getSession()).toBeNull()
    expect((await storedKey())?.id).toBe(expiredKey)
    msw.resetHandlers(...server.handlers)
    await auth.login(ada)
    expect((await storedKey())!.id).not.toBe(expiredKey)
    expect((await auth.fetch(API)).status).toBe(200)
  })

  it("a refused refresh of an old session does not delete the key another tab's login stored since", async () => {
    const tabA = client({ storage: memoryStorage() })
    await tabA.login(ada)
    await tabA.fetch(API)
    const tabB = client({ storage: memoryStorage() })
    await tabB.login(ada)
    const newKey = (await storedKey())!.id
    msw.use(http.post(`${BASE_URL}/auth/refresh`, () => HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })))
    await tabA.refresh().catch(() => undefined)
    expect((await storedKey())?.id).toBe(newKey)
  })

  it('without IndexedDB the tab that logged in keeps the key with its tokens: login, requests and refresh work', async () => {
    vi.stubGlobal('indexedDB', undefined)
    const auth = client()
    await auth.login(ada)
    expect((await auth.fetch(API)).status).toBe(200)
    await auth.refresh()
    expect((await auth.fetch(API)).status).toBe(200)
  })

  it('an IndexedDB that never answers: the login fails with storage after storageTimeoutMs, its tokens revoked, no session (no other tab nor a reload could use it)', async () => {
    vi.stubGlobal('indexedDB', { open: () => ({}) }) // a request whose events never fire
    const auth = client({ storageTimeoutMs: 50 })
    const error = await auth.login(ada).catch((e: unknown) => e)
    expect(isAuthError(error) && error.code).toBe('storage')
    expect(auth.getSession()).toBeNull()
    expect(server.stats.logout).toBe(1)
  })
})
