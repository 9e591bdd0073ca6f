// @vitest-environment node
import { spawn, spawnSync } from 'node:child_process'
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, scryptSync } from 'node:crypto'
import { connect } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import type { JWK } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startDemoServer } from '../examples/server/server.mjs'
import type { DemoServer, DemoServerOptions } from '../examples/server/server.mjs'

// The example server that the README tells users to copy: what an attacker or an unlucky
// deployment does to it.
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const servers: DemoServer[] = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

async function start(options: DemoServerOptions = {}): Promise<DemoServer> {
  const server = await startDemoServer({ refreshMode: 'body', ...options })
  servers.push(server)
  return server
}

const p256Pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

interface Tokens {
  accessToken: string
  refreshToken: string
  expiresIn: number
}
const post = (server: DemoServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
const login = (server: DemoServer, username = 'ada', password = 'lovelace') => post(server, '/auth/login', { username, password })
const tokensOf = async (response: Response) => {
  expect(response.status).toBe(200)
  return (await response.json()) as Tokens
}
const refresh = (server: DemoServer, refreshToken: string) => post(server, '/auth/refresh', { refreshToken })
const me = (server: DemoServer, accessToken: string) => fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } })

/** Sends `request` as it is on a raw socket; resolves with the status line's code and the whole answer. */
function raw(server: DemoServer, request: string): Promise<{ status: number; text: string }> {
  const { port } = new URL(server.url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request))
    let text = ''
    socket.on('data', (chunk) => (text += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }))
  })
}

describe('example server: the signing key', () => {
  it.each([
    ['generated at start', undefined],
    ['from DEMO_SIGNING_KEY (PKCS#8 P-256)', p256Pem()],
  ])('%s: the tokens it issues pass /api/me and verify against its JWKS, which holds no private part', async (_, signingKeyPem) => {
    const server = await start({ signingKeyPem })
    const { accessToken } = await tokensOf(await login(server))
    expect((await me(server, accessToken)).status).toBe(200)
    const jwksResponse = await fetch(`${server.url}/.well-known/jwks.json`)
    expect(jwksResponse.status).toBe(200)
    const jwks = (await jwksResponse.json()) as { keys: Record<string, unknown>[] }
    expect(jwks.keys).toHaveLength(1)
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' })
    expect(jwks.keys[0]).not.toHaveProperty('d')
    const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks as never), { algorithms: ['ES256'] })
    expect(payload.sub).toBe('ada')
  })

  it.each([
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['a P-384 key', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['not a key', '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----'],
  ])('refuses to start with %s, naming DEMO_SIGNING_KEY', async (_, signingKeyPem) => {
    await expect(startDemoServer({ signingKeyPem })).rejects.toThrow(/DEMO_SIGNING_KEY/)
  })
})

describe('example server: logins', () => {
  it('hashes asynchronously: five logins at once never block the event loop for as long as one hash takes', async () => {
    const server = await start()
    // What one scrypt hash of the server's cost blocks a thread for, here and now.
    const started = performance.now()
    scryptSync('password', 'salt-salt-salt-salt', 32, { N: 16384, r: 8, p: 1 })
    const hashMs = performance.now() - started
    // The test and the server share this event loop: a hash on it would stall it for hashMs in every
    // round. A stall of this shared machine can hit any one round, so the quietest of three counts.
    let quietest = Infinity
    for (let round = 0; round < 3 && quietest >= hashMs * 0.8; round++) {
      const delay = monitorEventLoopDelay({ resolution: 1 })
      delay.enable()
      const answers = await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((name) => login(server, `${name}-${round}`, 'wrong')))
      delay.disable()
      // Each was hashed and refused, not turned away by the address throttle before hashing.
      expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401])
      quietest = Math.min(quietest, delay.max / 1e6)
    }
    expect(quietest).toBeLessThan(hashMs * 0.8)
  })

  it('after failedLoginsPerUser wrong passwords for a user, answers 429 with Retry-After, even to the right password; other users go on', async () => {
    const server = await start({ failedLoginsPerUser: 3, failedLoginWindowSec: 60 })
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await login(server, 'ada', 'wrong')).status)
    expect(statuses).toEqual([401, 401, 401])
    const refused = await login(server, 'ada', 'lovelace')
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(await refused.json()).toMatchObject({ error: 'too_many_attempts' })
    expect((await login(server, 'grace', 'hopper')).status).toBe(200)
    expect(server.stats.throttled).toBe(1)
  })

  it('guesses sent all at once are held to the limit too: of 30 parallel logins for one user, at most 5 are checked', async () => {
    const server = await start({ failedLoginsPerUser: 5 })
    const guesses = Array.from({ length: 30 }, (_, i) => (i === 29 ? 'lovelace' : `guess${i}`))
    const statuses = await Promise.all(guesses.map((password) => login(server, 'ada', password).then((r) => r.status)))
    expect(statuses.filter((status) => status !== 429)).toHaveLength(5)
    expect(statuses.at(-1)).toBe(429) // the right password, sent last, was not even checked
  })

  it('after failedLoginsPerAddress failures from one address, answers 429 whatever the username', async () => {
    const server = await start({ failedLoginsPerAddress: 4, failedLoginsPerUser: 100 })
    for (let i = 0; i < 4; i++) expect((await login(server, `guess${i}`, 'x')).status).toBe(401)
    const refused = await login(server, 'grace', 'hopper')
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
  })

  it("a successful login clears the user's count; the window's end lets the user try again", async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await start({ failedLoginsPerUser: 3, failedLoginWindowSec: 60 })
    for (let i = 0; i < 2; i++) await login(server, 'ada', 'wrong')
    expect((await login(server, 'ada', 'lovelace')).status).toBe(200)
    for (let i = 0; i < 2; i++) expect((await login(server, 'ada', 'wrong')).status).toBe(401)
    await login(server, 'ada', 'wrong')
    expect((await login(server, 'ada', 'lovelace')).status).toBe(429)
    vi.setSystemTime(Date.now() + 61_000)
    expect((await login(server, 'ada', 'lovelace')).status).toBe(200)
    expect(server.held().throttled).toBe(0) // the address's count too: its window is over
  })
})

describe('example server: sessions', () => {
  it('a reused refresh token revokes its whole family: the access token the thief got stops working at once', async () => {
    const server = await start()
    const first = await tokensOf(await login(server))
    const stolen = await tokensOf(await refresh(server, first.refreshToken)) // the thief refreshes first
    expect((await me(server, stolen.accessToken)).status).toBe(200)
    expect((await refresh(server, first.refreshToken)).status).toBe(401) // the user's turn: a reuse
    expect(server.stats.reuseDetected).toBe(1)
    expect((await me(server, stolen.accessToken)).status).toBe(401)
    expect((await me(server, first.accessToken)).status).toBe(401)
    expect((await refresh(server, stolen.refreshToken)).status).toBe(401)
  })

  it('a made-up refresh token naming a live session (its sid is in every access token) is refused and ends nothing', async () => {
    const server = await start()
    const tokens = await tokensOf(await login(server))
    const [id, generation] = tokens.refreshToken.split('.')
    for (const forged of [`${id}.${generation}.AAAA`, `${id}.0.${'A'.repeat(43)}`, `${id}.x`, `${id}`]) {
      expect((await refresh(server, forged)).status).toBe(401)
    }
    expect(server.stats.reuseDetected).toBe(0)
    expect((await me(server, tokens.accessToken)).status).toBe(200)
    expect((await refresh(server, tokens.refreshToken)).status).toBe(200)
  })

  it.each(['logout', 'a cookie-mode login'])('%s with a made-up refresh token naming a live session ends nothing', async (how) => {
    const server = await start({ refreshMode: how === 'logout' ? 'body' : 'cookie' })
    const victim = await login(server)
    const { accessToken } = (await victim.json()) as Tokens
    const { sid } = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { sid: string }
    const forged = `${sid}.1.${'A'.repeat(43)}`
    if (how === 'logout') expect((await post(server, '/auth/logout', { refreshToken: forged })).status).toBe(204)
    else expect((await post(server, '/auth/login', { username: 'grace', password: 'hopper' }, { cookie: `__Host-tokenkeeper-refresh=${forged}` })).status).toBe(200)
    expect((await me(server, accessToken)).status).toBe(200)
  })

  it('an access token stops working when its session idles out, not at the next sweep', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await start({ refreshTokenLifetimeSec: 10, accessTokenLifetimeSec: 3600 })
    const { accessToken } = await tokensOf(await login(server))
    vi.setSystemTime(Date.now() + 11_000)
    expect((await me(server, accessToken)).status).toBe(401)
  })

  it('logout ends every token of the session, the access tokens it issued before too', async () => {
    const server = await start()
    const first = await tokensOf(await login(server))
    const second = await tokensOf(await refresh(server, first.refreshToken))
    expect((await post(server, '/auth/logout', { refreshToken: second.refreshToken })).status).toBe(204)
    expect((await me(server, first.accessToken)).status).toBe(401)
    expect((await me(server, second.accessToken)).status).toBe(401)
    expect((await refresh(server, second.refreshToken)).status).toBe(401)
  })

  it('with the refresh token in a cookie, a new login in the same browser ends the session its cookie replaces', async () => {
    const server = await start({ refreshMode: 'cookie' })
    const first = await login(server)
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!
    const { accessToken } = (await first.json()) as Tokens
    const second = await post(server, '/auth/login', { username: 'grace', password: 'hopper' }, { cookie })
    expect(second.status).toBe(200)
    expect((await me(server, accessToken)).status).toBe(401)
    expect((await post(server, '/auth/refresh', {}, { cookie })).status).toBe(401)
    expect(server.held().families).toBe(1)
  })

  it('a session ends sessionLifetimeSec after its login, however often it is refreshed, and no token outlives it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await start({ sessionLifetimeSec: 100, accessTokenLifetimeSec: 30, refreshTokenLifetimeSec: 3600 })
    const loggedInAt = Date.now()
    let tokens = await tokensOf(await login(server))
    for (let elapsed = 20; elapsed <= 80; elapsed += 20) {
      vi.setSystemTime(loggedInAt + elapsed * 1000)
      tokens = await tokensOf(await refresh(server, tokens.refreshToken))
    }
    vi.setSystemTime(loggedInAt + 90_000)
    tokens = await tokensOf(await refresh(server, tokens.refreshToken))
    expect(tokens.expiresIn).toBeLessThanOrEqual(10) // capped at the session's end
    vi.setSystemTime(loggedInAt + 101_000)
    expect((await refresh(server, tokens.refreshToken)).status).toBe(401)
    expect((await me(server, tokens.accessToken)).status).toBe(401)
  })

  it("a user's live sessions are capped: a login beyond sessionsPerUser ends the user's oldest, nobody else's", async () => {
    const server = await start({ sessionsPerUser: 3 })
    const grace = await tokensOf(await login(server, 'grace', 'hopper'))
    const sessions = []
    for (let i = 0; i < 4; i++) sessions.push(await tokensOf(await login(server)))
    const statuses = await Promise.all(sessions.map((session) => me(server, session.accessToken).then((r) => r.status)))
    expect(statuses).toEqual([401, 200, 200, 200])
    expect((await me(server, grace.accessToken)).status).toBe(200)
    expect(server.held().families).toBe(4)
  })

  it('holds one entry per live session: rotations add none, and ended or expired sessions are dropped', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const server = await start({ refreshTokenLifetimeSec: 60 })
    let tokens = await tokensOf(await login(server))
    for (let i = 0; i < 50; i++) tokens = await tokensOf(await refresh(server, tokens.refreshToken))
    expect(server.held().families).toBe(1)
    for (let i = 0; i < 20; i++) {
      const session = await tokensOf(await login(server, 'grace', 'hopper'))
      await post(server, '/auth/logout', { refreshToken: session.refreshToken })
    }
    expect(server.held().families).toBe(1)
    vi.setSystemTime(Date.now() + 61_000) // ada's refresh token idles out
    expect(server.held().families).toBe(0)
  })

  it.each([
    ['none', []],
    ['exp', ['exp']],
    ['jti', ['jti']],
    ['sub', ['sub']],
    ['sid', ['sid']],
  ])('a token signed with its own key and missing %s is refused at /api/me unless nothing is missing', async (_, missing) => {
    const pem = p256Pem()
    const server = await start({ signingKeyPem: pem })
    const { accessToken } = await tokensOf(await login(server))
    const { sid } = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { sid: string }
    const claims: Record<string, unknown> = { sid, name: 'Ada', sub: 'ada', jti: 'forged-1', exp: Math.floor(Date.now() / 1000) + 60 }
    for (const name of missing) delete claims[name]
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('tokenkeeper-demo-server')
      .setAudience('tokenkeeper-demo')
      .setIssuedAt()
      .sign(createPrivateKey(pem))
    expect((await me(server, forged)).status).toBe(missing.length === 0 ? 200 : 401)
  })
})

describe('example server: bad requests get an HTTP answer', () => {
  it('a missing file under /dist/ is a 404, and nothing is logged', async () => {
    const server = await start()
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const response = await fetch(`${server.url}/dist/nope.js?token=secret`)
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: 'not_found' })
    expect(log).not.toHaveBeenCalled()
  })

  it.each([
    ['an absolute-form target', 400, 'GET http://evil.example/?q=secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['a target with a control character', 400, 'GET /a\x01b?q=secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['a target naming another host as //host/path', 404, 'GET //evil.example/api/config?q=secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['a request line that is not HTTP', 400, 'GET /?q=secret HTTQ/1.1\r\n\r\n'],
    ['a URL of 10 KB', 431, `GET /?q=secret${'a'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['a header of 10 KB', 431, `GET /?q=secret HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`],
    ['an unknown method', 501, 'BREW /?q=secret HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('%s is answered %i, and neither the answer nor the log repeats the query', async (_, status, request) => {
    const server = await start()
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const answer = await raw(server, request)
    expect(answer.status).toBe(status)
    expect(answer.text).not.toContain('secret')
    expect(log.mock.calls.flat().join(' ')).not.toContain('secret')
  })

  it('HEAD on an API route answers as GET would, without the body', async () => {
    const server = await start()
    const response = await fetch(`${server.url}/api/config`, { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('')
  })

  it.each([
    ['PUT', '/auth/login', 'POST'],
    ['DELETE', '/api/me', 'GET, HEAD'],
    ['POST', '/', 'GET, HEAD'],
    ['POST', '/dist/index.js', 'GET, HEAD'],
  ])('%s %s is a 405 with Allow: %s', async (method, path, allow) => {
    const server = await start()
    const response = await fetch(`${server.url}${path}`, { method })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe(allow)
  })

  it('a client that stalls in its headers is answered 408 within seconds', async () => {
    const server = await start({ requestTimeoutSec: 1 })
    const started = Date.now()
    const answer = await raw(server, 'GET / HTTP/1.1\r\nHost: x\r\n') // and never the blank line
    expect(answer.status).toBe(408)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('example server: settings', () => {
  it.each([
    ['accessTokenLifetimeSec', { accessTokenLifetimeSec: 0 }],
    ['accessTokenLifetimeSec', { accessTokenLifetimeSec: -5 }],
    ['accessTokenLifetimeSec', { accessTokenLifetimeSec: Number.NaN }],
    ['sessionLifetimeSec', { sessionLifetimeSec: 1.5 }],
    ['refreshMode', { refreshMode: 'header' as never }],
    ['port', { port: 70_000 }],
    ['failedLoginsPerUser', { failedLoginsPerUser: 0 }],
  ])('startDemoServer refuses a bad %s, naming it', async (name, options) => {
    await expect(startDemoServer(options)).rejects.toThrow(new RegExp(`^${name} must be`))
  })

  it.each([
    ['TOKEN_LIFETIME', 'abc'],
    ['TOKEN_LIFETIME', '0'],
    ['TOKEN_LIFETIME', '-5'],
    ['PORT', 'eighty'],
    ['REFRESH_MODE', 'header'],
    ['DEMO_SIGNING_KEY', 'not a key'],
  ])('npm run demo with %s=%s stops at once with a message naming it', (name, value) => {
    const run = spawnSync(process.execPath, [join(root, 'examples/server/main.mjs')], {
      env: { ...process.env, PORT: '0', [name]: value },
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(name)
  }, 30_000)
})

describe('DPoP mode', () => {
  interface Key {
    privateKey: CryptoKey
    jwk: JWK
  }
  const newKey = async (): Promise<Key> => {
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    return { privateKey, jwk: await exportJWK(publicKey) }
  }
  const ath = (token: string) => createHash('sha256').update(token).digest('base64url')
  const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>

  /** A proof as a browser client makes one: a new jti, now as iat; `claims` may replace any of them. */
  const proof = (key: Key, htm: string, htu: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    new SignJWT({ jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...header })
      .sign(key.privateKey)

  const credentials = { username: 'ada', password: 'lovelace' }
  const dpopLogin = async (server: DemoServer, key: Key, claims: Record<string, unknown> = {}) =>
    post(server, '/auth/login', credentials, { dpop: await proof(key, 'POST', `${server.url}/auth/login`, claims) })
  const dpopRefresh = async (server: DemoServer, key: Key, refreshToken: string, claims: Record<string, unknown> = {}) =>
    post(server, '/auth/refresh', { refreshToken }, { dpop: await proof(key, 'POST', `${server.url}/auth/refresh`, claims) })
  /** GET /api/me as `Authorization: <scheme> <token>`, with a proof made for the token by `key` unless it is undefined. */
  const dpopMe = async (server: DemoServer, token: string, key: Key | undefined, claims: Record<string, unknown> = {}, scheme = 'DPoP') =>
    fetch(`${server.url}/api/me`, {
      headers: { authorization: `${scheme} ${token}`, ...(key && { dpop: await proof(key, 'GET', `${server.url}/api/me`, { ath: ath(token), ...claims }) }) },
    })
  /** A DPoP server with ada logged in by `key`. */
  async function loggedIn(options: DemoServerOptions = {}, key?: Key) {
    const server = await start({ dpop: true, ...options })
    key ??= await newKey()
    const tokens = await tokensOf(await dpopLogin(server, key))
    return { server, key, tokens }
  }

  it('a login with a proof gets tokenType DPoP and an access token whose cnf.jkt is the thumbprint of the proof key', async () => {
    const { key, tokens } = await loggedIn()
    expect(tokens).toMatchObject({ tokenType: 'DPoP' })
    expect(claimsOf(tokens.accessToken).cnf).toEqual({ jkt: await calculateJwkThumbprint(key.jwk) })
  })

  it('without dpop, nothing changes: a login without a proof gets a Bearer token with no cnf, and /api/config says DPoP is off', async () => {
    const server = await start()
    const tokens = await tokensOf(await login(server))
    expect(tokens).toMatchObject({ tokenType: 'Bearer' })
    expect(claimsOf(tokens.accessToken)).not.toHaveProperty('cnf')
    expect(await (await fetch(`${server.url}/api/config`)).json()).toMatchObject({ dpop: false, dpopNonce: false })
  })

  it('/api/config tells the page that DPoP and nonces are on', async () => {
    const server = await start({ dpop: true, dpopNonce: true })
    expect(await (await fetch(`${server.url}/api/config`)).json()).toMatchObject({ dpop: true, dpopNonce: true })
  })

  it('a login without a proof is 400 invalid_dpop_proof and counted in dpopRefused', async () => {
    const server = await start({ dpop: true })
    const response = await login(server)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    expect(server.stats.dpopRefused).toBe(1)
  })

  it('/api/me answers 200 to the token as DPoP with a proof of its key made for it (ath)', async () => {
    const { server, key, tokens } = await loggedIn()
    const response = await dpopMe(server, tokens.accessToken, key)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ sub: 'ada' })
  })

  it('the same token without a proof is 401 with WWW-Authenticate: DPoP, counted as unauthorized and as a refused proof', async () => {
    const { server, key, tokens } = await loggedIn()
    expect((await dpopMe(server, tokens.accessToken, key)).status).toBe(200)
    const response = await dpopMe(server, tokens.accessToken, undefined)
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"')
    expect(server.stats).toMatchObject({ unauthorized: 1, dpopRefused: 1 })
  })

  it('the token with a good proof by another key is 401 invalid_token: the proof key must be the one in cnf.jkt', async () => {
    const { server, tokens } = await loggedIn()
    const response = await dpopMe(server, tokens.accessToken, await newKey())
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('DPoP error="invalid_token"')
    expect(server.stats.unauthorized).toBe(1)
  })

  it('the token sent as Bearer, even with a good proof, is 401 invalid_token', async () => {
    const { server, key, tokens } = await loggedIn()
    const response = await dpopMe(server, tokens.accessToken, key, {}, 'Bearer')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('DPoP error="invalid_token"')
    expect(server.stats.unauthorized).toBe(1)
  })

  it('the DPoP scheme is case-insensitive', async () => {
    const { server, key, tokens } = await loggedIn()
    expect((await dpopMe(server, tokens.accessToken, key, {}, 'dpop')).status).toBe(200)
  })

  it.each([
    ['no ath', { ath: undefined }],
    ['the ath of another token', { ath: ath('another.access.token') }],
  ])('a proof of the right key with %s is 401 invalid_dpop_proof', async (_, claims) => {
    const { server, key, tokens } = await loggedIn()
    const response = await dpopMe(server, tokens.accessToken, key, claims)
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"')
  })

  it('a jti seen before is refused, even in a new proof; the next proof with a new jti goes through', async () => {
    const { server, key, tokens } = await loggedIn()
    expect((await dpopMe(server, tokens.accessToken, key, { jti: 'once' })).status).toBe(200)
    const again = await dpopMe(server, tokens.accessToken, key, { jti: 'once', iat: Math.floor(Date.now() / 1000) - 1 })
    expect(again.status).toBe(401)
    expect(again.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"')
    expect((await dpopMe(server, tokens.accessToken, key)).status).toBe(200)
  })

  it('a login proof replayed as it was is refused', async () => {
    const server = await start({ dpop: true })
    const dpop = await proof(await newKey(), 'POST', `${server.url}/auth/login`)
    expect((await post(server, '/auth/login', credentials, { dpop })).status).toBe(200)
    const replayed = await post(server, '/auth/login', credentials, { dpop })
    expect(replayed.status).toBe(400)
    expect(await replayed.json()).toMatchObject({ error: 'invalid_dpop_proof' })
  })

  it('two DPoP headers, each a good proof, are refused: exactly one is allowed', async () => {
    const { server, key, tokens } = await loggedIn()
    const { host } = new URL(server.url)
    const proofs = await Promise.all([1, 2].map(() => proof(key, 'GET', `${server.url}/api/me`, { ath: ath(tokens.accessToken) })))
    const answer = await raw(server, `GET /api/me HTTP/1.1\r\nHost: ${host}\r\nAuthorization: DPoP ${tokens.accessToken}\r\nDPoP: ${proofs[0]}\r\nDPoP: ${proofs[1]}\r\nConnection: close\r\n\r\n`)
    expect(answer.status).toBe(401)
    expect(answer.text).toContain('invalid_dpop_proof')
  })

  it.each([
    ['htm POST for a GET', (url: string) => ({ htm: 'POST', htu: `${url}/api/me` })],
    ['htu of another path', (url: string) => ({ htu: `${url}/api/config` })],
    ['htu of another server', () => ({ htu: 'http://evil.example/api/me' })],
    ['htu at 127.0.0.1 for a request sent to localhost', (url: string) => ({ htu: url.replace('localhost', '127.0.0.1') + '/api/me' })],
    ['htu over https', (url: string) => ({ htu: url.replace('http:', 'https:') + '/api/me' })],
    ['no htu', () => ({ htu: undefined })],
  ])('a proof with %s is 401 invalid_dpop_proof', async (_, claims) => {
    const { server, key, tokens } = await loggedIn()
    const response = await dpopMe(server, tokens.accessToken, key, claims(server.url))
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"')
    expect(server.stats.dpopRefused).toBe(1)
  })

  it("a proof naming the server a forged Host header names is refused: the origin must be one of this server's", async () => {
    const { server, key, tokens } = await loggedIn()
    const dpop = await proof(key, 'GET', 'http://evil.example/api/me', { ath: ath(tokens.accessToken) })
    const answer = await raw(server, `GET /api/me HTTP/1.1\r\nHost: evil.example\r\nAuthorization: DPoP ${tokens.accessToken}\r\nDPoP: ${dpop}\r\nConnection: close\r\n\r\n`)
    expect(answer.status).toBe(401)
    expect(answer.text).toContain('invalid_dpop_proof')
  })

  it('htu is compared by the origin the request came in on: a page at 127.0.0.1 signs that origin and is served; its query is ignored', async () => {
    const { server, key, tokens } = await loggedIn()
    const here = server.url.replace('localhost', '127.0.0.1')
    const response = await fetch(`${here}/api/me?x=1`, {
      headers: { authorization: `DPoP ${tokens.accessToken}`, dpop: await proof(key, 'GET', `${here}/api/me?y=2#z`, { ath: ath(tokens.accessToken) }) },
    })
    expect(response.status).toBe(200)
  })

  it.each([
    ['htm GET', (url: string) => ({ htm: 'GET', htu: `${url}/auth/login` })],
    ['htu of /auth/refresh', (url: string) => ({ htu: `${url}/auth/refresh` })],
  ])('a login proof with %s is 400 invalid_dpop_proof', async (_, claims) => {
    const server = await start({ dpop: true })
    const response = await dpopLogin(server, await newKey(), claims(server.url))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
  })

  it.each([
    ['5 minutes old', -300],
    ['5 minutes ahead', 300],
  ])('a proof whose iat is %s is refused, at login and at the API', async (_, offset) => {
    const { server, key, tokens } = await loggedIn()
    const iat = Math.floor(Date.now() / 1000) + offset
    expect((await dpopLogin(server, key, { iat })).status).toBe(400)
    expect((await dpopMe(server, tokens.accessToken, key, { iat })).status).toBe(401)
    expect(server.stats.dpopRefused).toBe(2)
  })

  it.each([
    ['typ JWT', async (key: Key) => ({ typ: 'JWT', jwk: key.jwk })],
    ['the jwk of another key than the one that signed', async () => ({ jwk: (await newKey()).jwk })],
    ['its private key as jwk', async (key: Key) => ({ jwk: await exportJWK(key.privateKey) })],
  ])('a proof with %s is refused', async (_, header) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
    const key = { privateKey, jwk: await exportJWK(publicKey) }
    const { server, tokens } = await loggedIn({}, key)
    const dpop = await proof(key, 'GET', `${server.url}/api/me`, { ath: ath(tokens.accessToken) }, await header(key))
    const response = await fetch(`${server.url}/api/me`, { headers: { authorization: `DPoP ${tokens.accessToken}`, dpop } })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"')
  })

  it('a refresh with a proof by another key is refused and revokes nothing; the family goes on with its own key, tokens still bound to it', async () => {
    const { server, key, tokens } = await loggedIn()
    const stolen = await dpopRefresh(server, await newKey(), tokens.refreshToken)
    expect(stolen.status).toBe(401)
    expect(await stolen.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await dpopMe(server, tokens.accessToken, key)).status).toBe(200)
    const next = await tokensOf(await dpopRefresh(server, key, tokens.refreshToken))
    expect(next).toMatchObject({ tokenType: 'DPoP' })
    expect(claimsOf(next.accessToken).cnf).toEqual({ jkt: await calculateJwkThumbprint(key.jwk) })
    expect((await dpopMe(server, next.accessToken, key)).status).toBe(200)
    expect(server.stats.reuseDetected).toBe(0)
  })

  it('a refresh without a proof is 400 invalid_dpop_proof and spends nothing: the refresh token still works with a proof', async () => {
    const { server, key, tokens } = await loggedIn()
    const refused = await refresh(server, tokens.refreshToken)
    expect(refused.status).toBe(400)
    expect(await refused.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    expect((await dpopRefresh(server, key, tokens.refreshToken)).status).toBe(200)
  })

  it('logout by the access token with a proof of its key ends the session', async () => {
    const { server, key, tokens } = await loggedIn()
    const dpop = await proof(key, 'POST', `${server.url}/auth/logout`, { ath: ath(tokens.accessToken) })
    expect((await post(server, '/auth/logout', {}, { authorization: `DPoP ${tokens.accessToken}`, dpop })).status).toBe(204)
    expect((await dpopRefresh(server, key, tokens.refreshToken)).status).toBe(401)
  })

  it('logout by the access token without a good proof is answered 204 but ends nothing: the token does not identify a session', async () => {
    const { server, key, tokens } = await loggedIn()
    const wrongKey = await proof(await newKey(), 'POST', `${server.url}/auth/logout`, { ath: ath(tokens.accessToken) })
    for (const headers of [{}, { dpop: wrongKey }] as Record<string, string>[]) {
      expect((await post(server, '/auth/logout', {}, { authorization: `DPoP ${tokens.accessToken}`, ...headers })).status).toBe(204)
    }
    expect((await dpopMe(server, tokens.accessToken, key)).status).toBe(200)
    expect((await dpopRefresh(server, key, tokens.refreshToken)).status).toBe(200)
  })

  it('logout with a refused proof still ends the session its refresh token names: logout must work', async () => {
    const { server, key, tokens } = await loggedIn()
    const response = await post(server, '/auth/logout', { refreshToken: tokens.refreshToken }, { authorization: `DPoP ${tokens.accessToken}`, dpop: 'not-a-proof' })
    expect(response.status).toBe(204)
    expect(server.stats.dpopRefused).toBe(1)
    expect((await dpopMe(server, tokens.accessToken, key)).status).toBe(401)
    expect((await dpopRefresh(server, key, tokens.refreshToken)).status).toBe(401)
  })

  it("keeps a proof's jti only while its iat is in the window", async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { server, key, tokens } = await loggedIn({ accessTokenLifetimeSec: 3600 })
    expect((await dpopMe(server, tokens.accessToken, key)).status).toBe(200)
    expect(server.held().dpopProofs).toBe(2)
    vi.setSystemTime(Date.now() + 61_000)
    expect(server.held().dpopProofs).toBe(0)
  })

  describe('with dpopNonce', () => {
    it('a first login is 400 use_dpop_nonce with a DPoP-Nonce header; the retry with that nonce is 200', async () => {
      const server = await start({ dpop: true, dpopNonce: true })
      const key = await newKey()
      const first = await dpopLogin(server, key)
      expect(first.status).toBe(400)
      expect(await first.json()).toMatchObject({ error: 'use_dpop_nonce' })
      const nonce = first.headers.get('dpop-nonce')
      expect(nonce).toMatch(/^[\w-]{16,}$/)
      expect((await dpopLogin(server, key, { nonce })).status).toBe(200)
      expect((await dpopLogin(server, key, { nonce: 'made-up' })).status).toBe(400)
    })

    it('the API without the nonce is 401 with WWW-Authenticate: DPoP error="use_dpop_nonce" and a DPoP-Nonce header; with it, 200', async () => {
      const server = await start({ dpop: true, dpopNonce: true })
      const key = await newKey()
      const nonce = (await dpopLogin(server, key)).headers.get('dpop-nonce')!
      const tokens = await tokensOf(await dpopLogin(server, key, { nonce }))
      const refused = await dpopMe(server, tokens.accessToken, key)
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toBe('DPoP error="use_dpop_nonce"')
      expect(refused.headers.get('dpop-nonce')).toBe(nonce)
      expect(server.stats).toMatchObject({ unauthorized: 1, dpopRefused: 2 })
      expect((await dpopMe(server, tokens.accessToken, key, { nonce })).status).toBe(200)
    })

    it('a nonce is good in the period it was given and the next one, and refused after; each answer names the current nonce', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      const server = await start({ dpop: true, dpopNonce: true, accessTokenLifetimeSec: 3600, refreshTokenLifetimeSec: 3600 })
      const key = await newKey()
      const first = (await dpopLogin(server, key)).headers.get('dpop-nonce')!
      const tokens = await tokensOf(await dpopLogin(server, key, { nonce: first }))
      vi.setSystemTime(Date.now() + 6 * 60_000)
      const later = await dpopMe(server, tokens.accessToken, key, { nonce: first })
      expect(later.status).toBe(200)
      const second = later.headers.get('dpop-nonce')!
      expect(second).not.toBe(first)
      vi.setSystemTime(Date.now() + 5 * 60_000)
      const stale = await dpopMe(server, tokens.accessToken, key, { nonce: first })
      expect(stale.status).toBe(401)
      expect(stale.headers.get('www-authenticate')).toBe('DPoP error="use_dpop_nonce"')
      expect((await dpopMe(server, tokens.accessToken, key, { nonce: second })).status).toBe(200)
    })
  })

  it('startDemoServer refuses a dpop that is not a boolean, and dpopNonce without dpop, naming them', async () => {
    await expect(startDemoServer({ dpop: 'yes' as never })).rejects.toThrow(/^dpop must be a boolean/)
    await expect(startDemoServer({ dpopNonce: true })).rejects.toThrow(/^dpopNonce must be/)
  })

  it.each([
    [{ DPOP: 'yes' }, 'DPOP'],
    [{ DPOP_NONCE: '1' }, 'DPOP_NONCE'],
  ])('npm run demo with %o stops at once naming %s', (env, name) => {
    const run = spawnSync(process.execPath, [join(root, 'examples/server/main.mjs')], { env: { ...process.env, PORT: '0', ...env }, encoding: 'utf8', timeout: 20_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain(name)
  }, 30_000)

  it('npm run demo with DPOP=1 starts a DPoP server and says so in its banner', async () => {
    const child = spawn(process.execPath, [join(root, 'examples/server/main.mjs')], { env: { ...process.env, PORT: '0', OIDC_PORT: '0', DPOP: '1' } })
    try {
      let out = ''
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 20_000)
        child.stdout.on('data', (chunk) => {
          out += chunk
          if (out.includes('Ctrl-C')) resolve(void clearTimeout(timer))
        })
      })
      expect(out).toMatch(/DPoP: +on/)
      const url = /vanilla app: +(\S+)\//.exec(out)![1]
      expect(await (await fetch(`${url}/api/config`)).json()).toMatchObject({ dpop: true, dpopNonce: false })
    } finally {
      child.kill()
    }
  }, 30_000)
})
