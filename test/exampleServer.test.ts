// @vitest-environment node
import { spawnSync } from 'node:child_process'
import { createPrivateKey, generateKeyPairSync, scryptSync } from 'node:crypto'
import { connect } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SignJWT, createLocalJWKSet, jwtVerify } from 'jose'
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
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((name) => login(server, name, 'wrong')))
    delay.disable()
    // The test and the server share this event loop: a hash on it would stall it for hashMs.
    expect(delay.max / 1e6).toBeLessThan(hashMs * 0.8)
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
  })
})
