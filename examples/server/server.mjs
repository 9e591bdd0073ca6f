// The demo's auth server: real signed JWTs (ES256, jose), rotating refresh tokens with reuse
// detection, throttled logins, revocation, a protected API, and the example apps. Node's http
// module only. Everything lives in this process's memory: see the README for what a production
// deployment changes (a shared store, a key from a secret manager).
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, STATUS_CODES } from 'node:http'
import { dirname, extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from 'jose'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '../..')
const ISSUER = 'tokenkeeper-demo-server'
const AUDIENCE = 'tokenkeeper-demo'
const REFRESH_COOKIE = '__Host-tokenkeeper-refresh'
const MAX_BODY_BYTES = 16 * 1024
const MAX_HEADER_BYTES = 8 * 1024
const scryptAsync = promisify(scrypt)

/** The settings, their defaults and what each must be: checked before the server starts. */
const SETTINGS = {
  port: [0, (v) => Number.isInteger(v) && v >= 0 && v <= 65_535, 'an integer port, 0 to 65535'],
  host: ['127.0.0.1', (v) => typeof v === 'string' && v !== '', 'a host name or address'],
  accessTokenLifetimeSec: [30, (v) => Number.isInteger(v) && v >= 2 && v <= 86_400, 'whole seconds, 2 to 86400'],
  refreshTokenLifetimeSec: [8 * 3600, (v) => Number.isInteger(v) && v >= 10 && v <= 30 * 86_400, 'whole seconds, 10 to 30 days'],
  sessionLifetimeSec: [7 * 86_400, (v) => Number.isInteger(v) && v >= 10 && v <= 365 * 86_400, 'whole seconds, 10 to 365 days'],
  refreshMode: ['cookie', (v) => v === 'cookie' || v === 'body', "'cookie' or 'body'"],
  signingKeyPem: [undefined, (v) => v === undefined || typeof v === 'string', 'a PKCS#8 PEM string'],
  usersFile: [join(here, 'users.json'), (v) => typeof v === 'string', 'a path'],
  failedLoginsPerUser: [5, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  failedLoginsPerAddress: [20, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
  failedLoginWindowSec: [15 * 60, (v) => Number.isInteger(v) && v >= 1 && v <= 86_400, 'whole seconds, 1 to 86400'],
  requestTimeoutSec: [10, (v) => Number.isInteger(v) && v >= 1 && v <= 300, 'whole seconds, 1 to 300'],
  sessionsPerUser: [10, (v) => Number.isInteger(v) && v >= 1 && v <= 1000, 'an integer, 1 to 1000'],
  // The OpenID Provider the /oidc/ page logs in with (examples/oidc-provider), or a function giving
  // it: the provider is started after this server, as it needs this server's origin.
  oidcIssuer: [undefined, (v) => v === undefined || typeof v === 'function' || (typeof v === 'string' && URL.canParse(v)), 'a URL, or a function returning one'],
}

/**
 * The signing key: from `pem` (PKCS#8, EC P-256), or a new one. jose 6 signs and verifies with
 * Node's KeyObjects; the public key is derived from the private one, never guessed.
 */
async function signingKeys(pem) {
  if (pem === undefined) return generateKeyPair('ES256', { extractable: true })
  let privateKey
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' })
  } catch {
    throw new TypeError('signingKeyPem (DEMO_SIGNING_KEY) is not a PEM private key')
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('signingKeyPem (DEMO_SIGNING_KEY) must be an EC P-256 key, for ES256')
  }
  return { privateKey, publicKey: createPublicKey(privateKey) }
}

class HttpError extends Error {
  constructor(status, error, description, headers = {}) {
    super(description)
    this.status = status
    this.error = error
    this.headers = headers
  }
}

/**
 * Counts failed logins per key (a username, a client address) in a fixed window. A key over its
 * limit is refused until its window ends; entries are dropped once their window is over.
 */
function createThrottle(windowMs) {
  const entries = new Map()
  const current = (key, now) => {
    const entry = entries.get(key)
    return entry && entry.resetAt > now ? entry : undefined
  }
  return {
    /** Milliseconds until `key` may try again, or 0. */
    blockedFor(key, limit, now = Date.now()) {
      const entry = current(key, now)
      return entry && entry.failures >= limit ? entry.resetAt - now : 0
    },
    fail(key, now = Date.now()) {
      const entry = current(key, now) ?? { failures: 0, resetAt: now + windowMs }
      entry.failures++
      entries.set(key, entry)
    },
    /** Takes back one failure counted ahead (the login it was counted for succeeded). */
    undo(key, now = Date.now()) {
      const entry = current(key, now)
      if (entry && --entry.failures <= 0) entries.delete(key)
    },
    forget: (key) => entries.delete(key),
    sweep(now = Date.now()) {
      for (const [key, entry] of entries) if (entry.resetAt <= now) entries.delete(key)
    },
    get size() {
      return entries.size
    },
  }
}

/**
 * Starts the server. Every setting is checked first; a bad one throws a TypeError naming it.
 * @param {import('./server.d.mts').DemoServerOptions} [options]
 */
export async function startDemoServer(options = {}) {
  const settings = {}
  for (const [name, [fallback, valid, expected]] of Object.entries(SETTINGS)) {
    const value = options[name] ?? fallback
    if (!valid(value)) throw new TypeError(`${name} must be ${expected}, got ${JSON.stringify(String(value)).slice(0, 40)}`)
    settings[name] = value
  }
  const { accessTokenLifetimeSec, refreshTokenLifetimeSec, sessionLifetimeSec, refreshMode } = settings
  const { users } = JSON.parse(await readFile(settings.usersFile, 'utf8'))
  const oidcIssuer = () => (typeof settings.oidcIssuer === 'function' ? settings.oidcIssuer() : settings.oidcIssuer) ?? null
  const { privateKey, publicKey } = await signingKeys(settings.signingKeyPem)
  const stats = { login: 0, refresh: 0, logout: 0, reuseDetected: 0, api: 0, unauthorized: 0, throttled: 0 }

  /**
   * Refresh-token families, one per login, by id. A refresh token is `<family id>.<generation>.<mac>`,
   * the mac an HMAC under a key of this process, so nobody can make one up; the family keeps only
   * its current generation. A genuine token of an older generation was used already: its family is
   * revoked, access tokens too (they carry the family as `sid`). Each family lives at most
   * `sessionLifetimeSec` from its login, whatever the rotations.
   */
  const families = new Map()
  const refreshKey = randomBytes(32)
  const mac = (id, generation) => createHmac('sha256', refreshKey).update(`${id}.${generation}`).digest()
  const throttle = createThrottle(settings.failedLoginWindowSec * 1000)
  let origin = ''
  /** The page may be opened as localhost or as 127.0.0.1: both are this server. */
  let ownOrigins = new Set()

  async function checkPassword(username, password) {
    const user = Object.hasOwn(users, username) ? users[username] : undefined
    // Hash even for unknown users, so timing does not tell which names exist. Asynchronous: scrypt
    // runs on libuv's thread pool, not on the thread that answers every other request.
    const salt = Buffer.from(user?.salt ?? 'AAAAAAAAAAAAAAAAAAAAAA==', 'base64')
    const actual = await scryptAsync(password, salt, 32, { N: 16384, r: 8, p: 1 })
    return user !== undefined && timingSafeEqual(actual, Buffer.from(user.hash, 'base64')) ? user : undefined
  }

  /** Ends a family: its refresh token and every access token it issued (they name it as `sid`). */
  const revoke = (family) => families.delete(family.id)

  async function issue(sub, existing) {
    const now = Date.now()
    if (!existing) {
      // A user's live sessions are capped: a new login ends the oldest beyond the limit (Maps keep
      // insertion order, and a family keeps its place when it rotates).
      const live = [...families.values()].filter((family) => family.sub === sub)
      for (const family of live.slice(0, Math.max(0, live.length - settings.sessionsPerUser + 1))) revoke(family)
    }
    const family = existing ?? { id: randomBytes(12).toString('base64url'), sub, endsAt: now + sessionLifetimeSec * 1000, generation: 0 }
    family.generation++
    // The refresh token ends with its idle lifetime, or with the session, whichever comes first.
    family.expiresAt = Math.min(now + refreshTokenLifetimeSec * 1000, family.endsAt)
    families.set(family.id, family)
    const accessTokenLifetime = Math.max(1, Math.min(accessTokenLifetimeSec, Math.floor((family.endsAt - now) / 1000)))
    const accessToken = await new SignJWT({ name: users[sub].name, sid: family.id })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setJti(randomBytes(12).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(Math.floor(now / 1000) + accessTokenLifetime)
      .sign(privateKey)
    const refreshToken = `${family.id}.${family.generation}.${mac(family.id, family.generation).toString('base64url')}`
    return { accessToken, refreshToken, expiresIn: accessTokenLifetime, refreshMaxAge: Math.ceil((family.expiresAt - now) / 1000) }
  }

  /**
   * The live family a refresh token we issued belongs to, and the token's generation. A token we
   * did not issue names nothing: guessing cannot end someone else's session.
   */
  function genuineFamily(token) {
    const [id, generation, given, extra] = typeof token === 'string' && token.length < 200 ? token.split('.') : []
    if (!id || !/^\d{1,9}$/.test(generation ?? '') || !given || extra !== undefined) return undefined
    const expected = mac(id, Number(generation))
    const genuine = Buffer.from(given, 'base64url')
    if (genuine.length !== expected.length || !timingSafeEqual(genuine, expected)) return undefined
    const family = families.get(id)
    if (!family) return undefined
    if (family.expiresAt <= Date.now()) {
      families.delete(family.id)
      return undefined
    }
    return { family, generation: Number(generation) }
  }

  /** The family a refresh token opens, after rotation rules: a used token revokes its family. */
  function redeem(token) {
    const { family, generation } = genuineFamily(token) ?? {}
    if (!family) return undefined
    if (generation !== family.generation) {
      stats.reuseDetected++
      revoke(family)
      return undefined
    }
    return family
  }

  async function verifyAccess(request) {
    const token = /^Bearer ([\w.-]+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (!token) return undefined
    try {
      const { payload } = await jwtVerify(token, publicKey, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'sid'],
      })
      // Only tokens of a live family: logout, reuse and the session's end revoke them all.
      const family = typeof payload.sid === 'string' ? families.get(payload.sid) : undefined
      return family && family.expiresAt > Date.now() ? payload : undefined
    } catch {
      return undefined
    }
  }

  const cookies = (request) =>
    Object.fromEntries((request.headers.cookie ?? '').split(/; */).filter(Boolean).map((part) => {
      const at = part.indexOf('=')
      return [part.slice(0, at), part.slice(at + 1)]
    }))
  const refreshCookie = (value, maxAge) =>
    `${REFRESH_COOKIE}=${value}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${maxAge}`

  async function readJson(request) {
    if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
      // Also what keeps other sites from posting here: JSON cannot be sent cross-site without a preflight.
      throw new HttpError(415, 'unsupported_media_type', 'send application/json')
    }
    let size = 0
    const chunks = []
    for await (const chunk of request) {
      size += chunk.length
      if (size > MAX_BODY_BYTES) throw new HttpError(413, 'payload_too_large', `at most ${MAX_BODY_BYTES} bytes`)
      chunks.push(chunk)
    }
    const text = Buffer.concat(chunks).toString('utf8')
    if (text === '') return {}
    let body
    try {
      body = JSON.parse(text)
    } catch {
      throw new HttpError(400, 'invalid_request', 'the body is not JSON')
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid_request', 'the body must be a JSON object')
    return body
  }

  function tokenResponse(response, tokens) {
    const body = { accessToken: tokens.accessToken, tokenType: 'Bearer', expiresIn: tokens.expiresIn }
    if (refreshMode === 'body') body.refreshToken = tokens.refreshToken
    else response.setHeader('set-cookie', refreshCookie(tokens.refreshToken, tokens.refreshMaxAge))
    return body
  }

  /** Refuses a login from a client or for a user with too many recent failures: 429 with Retry-After. */
  function checkThrottle(username, address) {
    const waitMs = Math.max(
      throttle.blockedFor(`user:${username}`, settings.failedLoginsPerUser),
      throttle.blockedFor(`address:${address}`, settings.failedLoginsPerAddress),
    )
    if (waitMs > 0) {
      stats.throttled++
      throw new HttpError(429, 'too_many_attempts', 'too many failed logins; try again later', { 'retry-after': String(Math.ceil(waitMs / 1000)) })
    }
  }

  const api = {
    'POST /auth/login': async (request, response) => {
      stats.login++
      const { username, password } = await readJson(request)
      if (typeof username !== 'string' || typeof password !== 'string' || username.length > 256 || password.length > 1024) {
        throw new HttpError(400, 'invalid_request', 'username and password must be strings')
      }
      const address = request.socket.remoteAddress ?? 'unknown'
      checkThrottle(username, address)
      // Counted as failed before the hash, so guesses sent at once cannot all slip under the limit.
      throttle.fail(`user:${username}`)
      throttle.fail(`address:${address}`)
      if (!(await checkPassword(username, password))) throw new HttpError(401, 'invalid_credentials', 'wrong username or password')
      throttle.forget(`user:${username}`)
      throttle.undo(`address:${address}`)
      // The cookie this login replaces names a session the browser can no longer reach: end it.
      const replaced = refreshMode === 'cookie' ? genuineFamily(cookies(request)[REFRESH_COOKIE])?.family : undefined
      if (replaced) revoke(replaced)
      return [200, tokenResponse(response, await issue(username))]
    },
    'POST /auth/refresh': async (request, response) => {
      stats.refresh++
      const body = await readJson(request)
      const token = refreshMode === 'cookie' ? cookies(request)[REFRESH_COOKIE] : body.refreshToken
      const family = redeem(token)
      if (!family) {
        if (refreshMode === 'cookie') response.setHeader('set-cookie', refreshCookie('', 0))
        throw new HttpError(401, 'invalid_grant', 'the refresh token is unknown, expired, revoked or was already used')
      }
      return [200, tokenResponse(response, await issue(family.sub, family))]
    },
    'POST /auth/logout': async (request, response) => {
      stats.logout++
      const body = await readJson(request)
      const token = refreshMode === 'cookie' ? cookies(request)[REFRESH_COOKIE] : body.refreshToken
      const claims = await verifyAccess(request)
      // The family of the refresh token (any generation we issued), or of the access token: either
      // ends the whole session.
      for (const family of [genuineFamily(token)?.family, claims && families.get(claims.sid)]) if (family) revoke(family)
      if (refreshMode === 'cookie') response.setHeader('set-cookie', refreshCookie('', 0))
      return [204]
    },
    'GET /api/me': async (request, response) => {
      stats.api++
      const claims = await verifyAccess(request)
      if (!claims) {
        stats.unauthorized++
        response.setHeader('www-authenticate', 'Bearer error="invalid_token"')
        throw new HttpError(401, 'invalid_token', 'a valid, unexpired, unrevoked bearer token is required')
      }
      return [200, { sub: claims.sub, name: claims.name, exp: claims.exp, checkedAt: Date.now() }]
    },
    'GET /api/config': async () => [200, { accessTokenLifetimeSec, refreshMode, sessionLifetimeSec, oidcIssuer: oidcIssuer() }],
    'GET /.well-known/jwks.json': async () => [200, { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' }] }],
  }
  /** The methods each API path takes, for 405's Allow. */
  const allowed = new Map()
  for (const route of Object.keys(api)) {
    const [method, path] = route.split(' ')
    allowed.set(path, [...(allowed.get(path) ?? []), ...(method === 'GET' ? ['GET', 'HEAD'] : [method])])
  }

  const staticFiles = {
    '/': 'examples/vanilla/index.html',
    '/vanilla/app.js': 'examples/vanilla/app.js',
    '/react/': 'examples/react/index.html',
    '/react/app.js': 'examples/react/build/app.js',
    '/oidc/': 'examples/oidc/index.html',
    '/oidc/app.js': 'examples/oidc/app.js',
    '/style.css': 'examples/vanilla/style.css',
    '/vendor/jwt-decode.js': 'node_modules/jwt-decode/build/esm/index.js',
  }
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

  /** The file a static path names, or undefined: the listed files, and the built package under /dist/. */
  function staticFile(path) {
    const relative = staticFiles[path] ?? (/^\/dist\/[\w./-]+$/.test(path) && !path.includes('..') ? path.slice(1) : undefined)
    const file = relative && normalize(join(repo, relative))
    return file && file.startsWith(repo + sep) ? file : undefined
  }

  async function serveStatic(file, request, response) {
    let body
    try {
      body = await readFile(file)
    } catch {
      throw new HttpError(404, 'not_found', 'no such file')
    }
    const headers = { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }
    if (extname(file) === '.html') {
      // Only our own scripts run, plus the inline import map whose hash we allow.
      const hashes = [...body.toString().matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map(
        (match) => `'sha256-${createHash('sha256').update(match[1]).digest('base64')}'`,
      )
      // The /oidc/ page also talks to its OpenID Provider (discovery, tokens, revocation).
      const issuer = file === join(repo, staticFiles['/oidc/']) ? oidcIssuer() : null
      const connect = issuer ? `; connect-src 'self' ${new URL(issuer).origin}` : ''
      headers['content-security-policy'] = `default-src 'self'; script-src 'self' ${hashes.join(' ')}${connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`
    }
    response.writeHead(200, { ...headers, 'content-length': body.length })
    response.end(request.method === 'HEAD' ? undefined : body)
  }

  async function route(request, response) {
    let url
    try {
      // Origin-form only ("/path?query"): an absolute or malformed target is a bad request.
      if (!request.url?.startsWith('/')) throw new Error('not origin-form')
      url = new URL(`${origin}${request.url}`) // never another host: "//evil/x" is a path here
    } catch {
      throw new HttpError(400, 'invalid_request', 'the request target must be a path')
    }
    const methods = allowed.get(url.pathname)
    if (methods) {
      // HEAD is GET without the body, as HTTP says.
      const handler = api[`${request.method === 'HEAD' ? 'GET' : request.method} ${url.pathname}`]
      if (!handler) throw new HttpError(405, 'method_not_allowed', `${request.method} is not allowed here`, { allow: methods.join(', ') })
      // A browser always sends Origin on POST: one from another site is refused.
      if (request.method === 'POST' && request.headers.origin && !ownOrigins.has(request.headers.origin)) {
        throw new HttpError(403, 'forbidden', 'cross-origin requests are refused')
      }
      const [status, body] = await handler(request, response)
      response.writeHead(status, body === undefined ? { 'cache-control': 'no-store' } : { 'content-type': 'application/json', 'cache-control': 'no-store' })
      response.end(body === undefined || request.method === 'HEAD' ? undefined : JSON.stringify(body))
      return
    }
    const file = staticFile(url.pathname)
    if (!file) throw new HttpError(404, 'not_found', 'no such route')
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `${request.method} is not allowed here`, { allow: 'GET, HEAD' })
    await serveStatic(file, request, response)
  }

  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      // A client that stalls is answered 408 within seconds (Node checks every second here).
      headersTimeout: settings.requestTimeoutSec * 1000,
      requestTimeout: settings.requestTimeoutSec * 1000,
      connectionsCheckingInterval: 1000,
    },
    async (request, response) => {
      response.setHeader('x-content-type-options', 'nosniff')
      response.setHeader('referrer-policy', 'no-referrer')
      try {
        await route(request, response)
      } catch (error) {
        const known = error instanceof HttpError
        // One line, without the query string (it may carry anything) or a stack trace.
        if (!known) console.error(`demo server: ${request.method} ${String(request.url).split('?')[0].slice(0, 200)} failed (${error?.code ?? error?.name ?? 'error'})`)
        if (response.headersSent) return void response.destroy()
        response.writeHead(known ? error.status : 500, { ...(known && error.headers), 'content-type': 'application/json', 'cache-control': 'no-store' })
        response.end(JSON.stringify(known ? { error: error.error, error_description: error.message } : { error: 'server_error' }))
      }
    },
  )
  // What Node's parser refuses never reaches the handler: answer it as HTTP says, then close.
  server.on('clientError', (error, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy()
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408
      : error.code === 'HPE_INVALID_METHOD' ? 501
      : 400
    const body = JSON.stringify({ error: STATUS_CODES[status].toLowerCase().replaceAll(' ', '_') })
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`)
  })

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(settings.port, settings.host, resolve)
  })
  const address = server.address()
  origin = `http://${settings.host === '127.0.0.1' || settings.host === '::1' ? 'localhost' : settings.host}:${address.port}`
  ownOrigins = new Set([origin, `http://127.0.0.1:${address.port}`, `http://[::1]:${address.port}`])
  // Spent state is dropped, so the tables cannot grow without bound.
  const sweep = () => {
    const now = Date.now()
    for (const [id, family] of families) if (family.expiresAt <= now) families.delete(id)
    throttle.sweep(now)
  }
  const sweeper = setInterval(sweep, 60_000)
  sweeper.unref()

  return {
    url: origin,
    stats,
    /** How many entries the server holds in memory, after dropping the spent ones. */
    held: () => {
      sweep()
      return { families: families.size, throttled: throttle.size }
    },
    close: () =>
      new Promise((resolve) => {
        clearInterval(sweeper)
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}
