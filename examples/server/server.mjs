// The demo's auth server: real signed JWTs (ES256, jose), rotating refresh tokens with reuse
// detection, revocation, a protected API, and the example apps. Node's http module only.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SignJWT, exportJWK, generateKeyPair, importPKCS8, jwtVerify } from 'jose'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '../..')
const ISSUER = 'tokenkeeper-demo-server'
const AUDIENCE = 'tokenkeeper-demo'
const REFRESH_COOKIE = '__Host-tokenkeeper-refresh'
const MAX_BODY_BYTES = 16 * 1024

/**
 * Starts the server.
 * @param {object} [options]
 * @param {number} [options.port] 0 picks a free port
 * @param {string} [options.host]
 * @param {number} [options.accessTokenLifetimeSec] short, so refreshes are visible
 * @param {number} [options.refreshTokenLifetimeSec]
 * @param {'cookie' | 'body'} [options.refreshMode] where the refresh token travels
 * @param {string} [options.signingKeyPem] PKCS#8 ES256 key; generated when absent, never from the repo
 * @param {string} [options.usersFile]
 */
export async function startDemoServer(options = {}) {
  const {
    port = 0,
    host = '127.0.0.1',
    accessTokenLifetimeSec = 30,
    refreshTokenLifetimeSec = 8 * 3600,
    refreshMode = 'cookie',
    signingKeyPem,
    usersFile = join(here, 'users.json'),
  } = options
  if (refreshMode !== 'cookie' && refreshMode !== 'body') throw new TypeError(`refreshMode must be 'cookie' or 'body'`)
  const { users } = JSON.parse(await readFile(usersFile, 'utf8'))
  const { privateKey, publicKey } = signingKeyPem
    ? { privateKey: await importPKCS8(signingKeyPem, 'ES256'), publicKey: undefined }
    : await generateKeyPair('ES256')
  // With an imported key, verify with the same key object: jose derives the public part.
  const verifyKey = publicKey ?? privateKey
  const stats = { login: 0, refresh: 0, logout: 0, reuseDetected: 0, api: 0, unauthorized: 0 }
  /** sha256(refresh token) → its record; the tokens themselves are never stored. */
  const refreshTokens = new Map()
  /** jti of access tokens revoked at logout, until they expire anyway. */
  const revokedAccess = new Map()
  let origin = ''
  /** The page may be opened as localhost or as 127.0.0.1: both are this server. */
  let ownOrigins = new Set()

  const digest = (token) => createHash('sha256').update(token).digest('base64url')

  function checkPassword(username, password) {
    const user = typeof username === 'string' && Object.hasOwn(users, username) ? users[username] : undefined
    // Hash even for unknown users, so timing does not tell which names exist.
    const salt = Buffer.from(user?.salt ?? 'AAAAAAAAAAAAAAAAAAAAAA==', 'base64')
    const actual = scryptSync(typeof password === 'string' ? password : '', salt, 32, { N: 16384, r: 8, p: 1 })
    return user !== undefined && timingSafeEqual(actual, Buffer.from(user.hash, 'base64')) ? user : undefined
  }

  async function issue(sub, family) {
    const user = users[sub]
    const accessToken = await new SignJWT({ name: user.name })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setJti(randomBytes(12).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(`${accessTokenLifetimeSec}s`)
      .sign(privateKey)
    const refreshToken = randomBytes(32).toString('base64url')
    const owner = family ?? { sub, revoked: false }
    refreshTokens.set(digest(refreshToken), { family: owner, used: false, expiresAt: Date.now() + refreshTokenLifetimeSec * 1000 })
    return { accessToken, refreshToken }
  }

  /** The family a refresh token opens, after rotation rules: a used token revokes its family. */
  function redeem(token) {
    const record = typeof token === 'string' && token.length < 200 ? refreshTokens.get(digest(token)) : undefined
    if (!record || record.family.revoked || record.expiresAt < Date.now()) return undefined
    if (record.used) {
      stats.reuseDetected++
      record.family.revoked = true
      return undefined
    }
    record.used = true
    return record.family
  }

  async function verifyAccess(request) {
    const token = /^Bearer ([\w.-]+)$/.exec(request.headers.authorization ?? '')?.[1]
    if (!token) return undefined
    try {
      const { payload } = await jwtVerify(token, verifyKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] })
      return revokedAccess.has(payload.jti) ? undefined : payload
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

  class HttpError extends Error {
    constructor(status, error, description) {
      super(description)
      this.status = status
      this.error = error
    }
  }

  async function readJson(request) {
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
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
    const body = { accessToken: tokens.accessToken, tokenType: 'Bearer', expiresIn: accessTokenLifetimeSec }
    if (refreshMode === 'body') body.refreshToken = tokens.refreshToken
    else response.setHeader('set-cookie', refreshCookie(tokens.refreshToken, refreshTokenLifetimeSec))
    return body
  }

  const api = {
    'POST /auth/login': async (request, response) => {
      stats.login++
      const { username, password } = await readJson(request)
      if (typeof username !== 'string' || typeof password !== 'string') throw new HttpError(400, 'invalid_request', 'username and password must be strings')
      if (!checkPassword(username, password)) throw new HttpError(401, 'invalid_credentials', 'wrong username or password')
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
      const record = typeof token === 'string' ? refreshTokens.get(digest(token)) : undefined
      if (record) record.family.revoked = true
      const claims = await verifyAccess(request)
      if (claims) revokedAccess.set(claims.jti, claims.exp * 1000)
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
    'GET /api/config': async () => [200, { accessTokenLifetimeSec, refreshMode }],
    'GET /.well-known/jwks.json': async () => [200, { keys: [{ ...(await exportJWK(verifyKey)), d: undefined, alg: 'ES256', use: 'sig' }] }],
  }

  const staticFiles = {
    '/': 'examples/vanilla/index.html',
    '/vanilla/app.js': 'examples/vanilla/app.js',
    '/react/': 'examples/react/index.html',
    '/react/app.js': 'examples/react/build/app.js',
    '/style.css': 'examples/vanilla/style.css',
    '/vendor/jwt-decode.js': 'node_modules/jwt-decode/build/esm/index.js',
  }
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

  async function serveStatic(path, response) {
    const relative = staticFiles[path] ?? (path.startsWith('/dist/') && !path.includes('..') ? path.slice(1) : undefined)
    if (!relative) return false
    const file = normalize(join(repo, relative))
    if (!file.startsWith(repo + sep)) return false
    let body = await readFile(file)
    const headers = { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }
    if (extname(file) === '.html') {
      // Only our own scripts run, plus the inline import map whose hash we allow.
      const hashes = [...body.toString().matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map(
        (match) => `'sha256-${createHash('sha256').update(match[1]).digest('base64')}'`,
      )
      headers['content-security-policy'] = `default-src 'self'; script-src 'self' ${hashes.join(' ')}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`
    }
    response.writeHead(200, headers)
    response.end(body)
    return true
  }

  const server = createServer(async (request, response) => {
    response.setHeader('x-content-type-options', 'nosniff')
    response.setHeader('referrer-policy', 'no-referrer')
    try {
      const url = new URL(request.url ?? '/', origin)
      const handler = api[`${request.method} ${url.pathname}`]
      if (handler) {
        // A browser always sends Origin on POST: one from another site is refused.
        if (request.method === 'POST' && request.headers.origin && !ownOrigins.has(request.headers.origin)) {
          throw new HttpError(403, 'forbidden', 'cross-origin requests are refused')
        }
        const [status, body] = await handler(request, response)
        response.writeHead(status, body === undefined ? { 'cache-control': 'no-store' } : { 'content-type': 'application/json', 'cache-control': 'no-store' })
        response.end(body === undefined ? undefined : JSON.stringify(body))
        return
      }
      if (Object.keys(api).some((route) => route.endsWith(` ${url.pathname}`))) throw new HttpError(405, 'method_not_allowed', `${request.method} is not allowed here`)
      if (request.method === 'GET' && (await serveStatic(url.pathname, response))) return
      throw new HttpError(404, 'not_found', 'no such route')
    } catch (error) {
      const known = error instanceof HttpError
      if (!known) console.error('demo server: unexpected error', error)
      if (response.headersSent) return void response.destroy()
      response.writeHead(known ? error.status : 500, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      response.end(JSON.stringify(known ? { error: error.error, error_description: error.message } : { error: 'server_error' }))
    }
  })
  server.on('clientError', (_error, socket) => socket.destroy())

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const address = server.address()
  origin = `http://${host === '127.0.0.1' || host === '::1' ? 'localhost' : host}:${address.port}`
  ownOrigins = new Set([origin, `http://127.0.0.1:${address.port}`, `http://[::1]:${address.port}`])
  // Revoked access tokens only need remembering until they expire.
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [jti, expiresAt] of revokedAccess) if (expiresAt < now) revokedAccess.delete(jti)
    for (const [hash, record] of refreshTokens) if (record.expiresAt < now) refreshTokens.delete(hash)
  }, 60_000)
  sweep.unref()

  return {
    url: origin,
    stats,
    close: () =>
      new Promise((resolve) => {
        clearInterval(sweep)
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}
