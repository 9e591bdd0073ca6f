// The demo's auth server: real signed JWTs (ES256, jose), rotating refresh tokens with reuse
// detection, throttled logins, revocation, a protected API, optional DPoP (RFC 9449), and the
// example apps. Node's http module only. Everything lives in this process's memory: see the README
// for what a production deployment changes (a shared store, a key from a secret manager).
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, STATUS_CODES } from 'node:http'
import { dirname, extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { EmbeddedJWK, SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify } from 'jose'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '../..')
const ISSUER = 'tokenkeeper-demo-server'
const AUDIENCE = 'tokenkeeper-demo'
const REFRESH_COOKIE = '__Host-tokenkeeper-refresh'
const MAX_BODY_BYTES = 16 * 1024
const MAX_HEADER_BYTES = 8 * 1024
const scryptAsync = promisify(scrypt)
/** What a DPoP proof may be signed with: asymmetric algorithms only, as RFC 9449 requires. */
const DPOP_ALGORITHMS = ['ES256', 'PS256', 'EdDSA']
/** A proof's iat may be this far from the server's clock, either way; its jti is kept as long. */
const DPOP_IAT_WINDOW_SEC = 60
/** A server nonce is good for one to two of these: the current one and the one before are accepted. */
const DPOP_NONCE_PERIOD_MS = 5 * 60_000
/** jtis remembered at once: past it, proofs are refused (503) until old ones age out, not forgotten early. */
const MAX_SEEN_PROOFS = 100_000

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
  // The pages' session policy (told them by /api/config): the session ends after this long with no
  // activity in any tab, and a "still there?" warning comes a little before. Short, to be seen.
  idleTimeoutSec: [120, (v) => Number.isInteger(v) && v >= 10 && v <= 86_400, 'whole seconds, 10 to 86400'],
  // DPoP (RFC 9449): token and API requests carry a proof of a key the tokens are bound to.
  dpop: [false, (v) => typeof v === 'boolean', 'a boolean'],
  // Checked after dpop (the table's order): a nonce asked for without DPoP would silently do nothing.
  dpopNonce: [false, (v, settings) => typeof v === 'boolean' && (!v || settings.dpop), 'a boolean, and true only with dpop'],
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
    if (!valid(value, settings)) throw new TypeError(`${name} must be ${expected}, got ${JSON.stringify(String(value)).slice(0, 40)}`)
    settings[name] = value
  }
  const { accessTokenLifetimeSec, refreshTokenLifetimeSec, sessionLifetimeSec, refreshMode } = settings
  const { users } = JSON.parse(await readFile(settings.usersFile, 'utf8'))
  const oidcIssuer = () => (typeof settings.oidcIssuer === 'function' ? settings.oidcIssuer() : settings.oidcIssuer) ?? null
  const { privateKey, publicKey } = await signingKeys(settings.signingKeyPem)
  const stats = { login: 0, refresh: 0, logout: 0, reuseDetected: 0, api: 0, unauthorized: 0, throttled: 0, dpopRefused: 0 }

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

  /** `jkt`, with DPoP, is the thumbprint of the key a new login proved: the family keeps it. */
  async function issue(sub, existing, jkt) {
    const now = Date.now()
    if (!existing) {
      // A user's live sessions are capped: a new login ends the oldest beyond the limit (Maps keep
      // insertion order, and a family keeps its place when it rotates).
      const live = [...families.values()].filter((family) => family.sub === sub)
      for (const family of live.slice(0, Math.max(0, live.length - settings.sessionsPerUser + 1))) revoke(family)
    }
    const family = existing ?? { id: randomBytes(12).toString('base64url'), sub, endsAt: now + sessionLifetimeSec * 1000, generation: 0, jkt }
    family.generation++
    // The refresh token ends with its idle lifetime, or with the session, whichever comes first.
    family.expiresAt = Math.min(now + refreshTokenLifetimeSec * 1000, family.endsAt)
    families.set(family.id, family)
    const accessTokenLifetime = Math.max(1, Math.min(accessTokenLifetimeSec, Math.floor((family.endsAt - now) / 1000)))
    // A DPoP session's access tokens are bound to its key (RFC 9449 section 6): no use without it.
    const binding = family.jkt === undefined ? {} : { cnf: { jkt: family.jkt } }
    const accessToken = await new SignJWT({ name: users[sub].name, sid: family.id, ...binding })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setJti(randomBytes(12).toString('base64url'))
      .setIssuedAt()
      .setExpirationTime(Math.floor(now / 1000) + accessTokenLifetime)
      .sign(privateKey)
    const refreshToken = `${family.id}.${family.generation}.${mac(family.id, family.generation).toString('base64url')}`
    const tokenType = family.jkt === undefined ? 'Bearer' : 'DPoP'
    return { accessToken, tokenType, refreshToken, expiresIn: accessTokenLifetime, refreshMaxAge: Math.ceil((family.expiresAt - now) / 1000) }
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

  /**
   * The family a refresh token opens, after rotation rules: a used token revokes its family. `jkt`
   * is the key the request proved (DPoP): a family bound to another key is refused before the
   * rotation rules, so a thief without the key can neither refresh nor, by replaying, end the session.
   */
  function redeem(token, jkt) {
    const { family, generation } = genuineFamily(token) ?? {}
    if (!family || family.jkt !== jkt) return undefined
    if (generation !== family.generation) {
      stats.reuseDetected++
      revoke(family)
      return undefined
    }
    return family
  }

  /**
   * Nonces for DPoP proofs (RFC 9449 section 8): a random one per period, made when first asked for.
   * The one before stays good, so a client that has just been given it is not refused at the turn.
   */
  const nonces = { current: '', previous: undefined, since: -Infinity }
  function currentNonce(now = Date.now()) {
    const periods = Math.floor((now - nonces.since) / DPOP_NONCE_PERIOD_MS)
    if (periods > 0) {
      nonces.previous = periods === 1 ? nonces.current : undefined
      nonces.current = randomBytes(16).toString('base64url')
      nonces.since = periods === 1 ? nonces.since + DPOP_NONCE_PERIOD_MS : now
    }
    return nonces.current
  }
  const nonceIsFresh = (nonce, now) => typeof nonce === 'string' && (nonce === currentNonce(now) || nonce === nonces.previous)

  /**
   * The jtis of accepted proofs, each until its iat leaves the window (a later copy fails the iat
   * check anyway): a proof is good once. Capped, and full means refusing, never forgetting early.
   */
  const seenProofs = new Map()
  const sweepProofs = (now) => {
    for (const [jti, forgetAt] of seenProofs) if (forgetAt <= now) seenProofs.delete(jti)
  }

  /**
   * Whether a proof's htu names this request (query and fragment ignored, as RFC 9449 says): the
   * origin the request came in on, by its Host, which must be this server's (the page may use
   * localhost or 127.0.0.1: the browser signs what it sees), and the request's path. Both sides are
   * parsed as URLs, so case, default ports and dot segments cannot make a difference.
   */
  function namesThisRequest(htu, request, url) {
    const arrivedAt = `http://${request.headers.host}`
    if (typeof htu !== 'string' || !URL.canParse(htu) || !URL.canParse(arrivedAt)) return false
    const claimed = new URL(htu)
    const { origin } = new URL(arrivedAt)
    return ownOrigins.has(origin) && claimed.origin === origin && claimed.pathname === url.pathname
  }

  /**
   * Checks the request's DPoP proof (RFC 9449 section 4.3) and gives its key's thumbprint (RFC 7638).
   * `accessToken`, at a protected resource, is the token the proof must be made for (ath). A refused
   * proof throws: 400 at the token endpoints, 401 with WWW-Authenticate at a resource (section 7.1).
   */
  async function checkProof(request, response, url, accessToken) {
    const atResource = accessToken !== undefined
    const refuse = (error, description) => {
      stats.dpopRefused++
      return new HttpError(atResource ? 401 : 400, error, description, atResource ? { 'www-authenticate': `DPoP error="${error}"` } : {})
    }
    // Every answer to a request that needs a proof names the nonce to use next, refused or not.
    if (settings.dpopNonce) response.setHeader('dpop-nonce', currentNonce())
    const proofs = request.headersDistinct.dpop ?? []
    if (proofs.length !== 1) throw refuse('invalid_dpop_proof', proofs.length === 0 ? 'a DPoP proof is required' : 'send exactly one DPoP proof')
    let proof
    try {
      // EmbeddedJWK verifies with the key in the proof's own header, and refuses a private key there.
      proof = await jwtVerify(proofs[0], EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGORITHMS, requiredClaims: ['jti', 'htm', 'htu', 'iat'] })
    } catch {
      throw refuse('invalid_dpop_proof', 'the DPoP proof is not a dpop+jwt JWS signed by the public key in its header')
    }
    const { jti, htm, htu, iat, nonce, ath } = proof.payload
    const now = Date.now()
    if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw refuse('invalid_dpop_proof', "the proof's jti must be a string of at most 256 characters")
    if (htm !== request.method) throw refuse('invalid_dpop_proof', "the proof's htm is not this request's method")
    if (!namesThisRequest(htu, request, url)) throw refuse('invalid_dpop_proof', "the proof's htu is not this request's URL")
    if (typeof iat !== 'number' || Math.abs(iat * 1000 - now) > DPOP_IAT_WINDOW_SEC * 1000) throw refuse('invalid_dpop_proof', "the proof's iat is not within a minute of now")
    if (atResource && ath !== createHash('sha256').update(accessToken, 'ascii').digest('base64url')) {
      throw refuse('invalid_dpop_proof', "the proof's ath is not the hash of the access token it comes with")
    }
    // From here to the set below nothing awaits: two copies of one proof sent at once cannot both pass.
    if ((seenProofs.get(jti) ?? 0) > now) throw refuse('invalid_dpop_proof', 'this proof was used already')
    // Last: the client asked for a nonce sends a new proof, which must pass all the rest anyway.
    if (settings.dpopNonce && !nonceIsFresh(nonce, now)) throw refuse('use_dpop_nonce', 'sign the proof with the nonce in this answer\'s DPoP-Nonce')
    if (seenProofs.size >= MAX_SEEN_PROOFS) sweepProofs(now)
    if (seenProofs.size >= MAX_SEEN_PROOFS) {
      stats.dpopRefused++
      throw new HttpError(503, 'temporarily_unavailable', 'too many recent DPoP proofs; try again shortly', { 'retry-after': String(DPOP_IAT_WINDOW_SEC) })
    }
    seenProofs.set(jti, (iat + DPOP_IAT_WINDOW_SEC) * 1000)
    return calculateJwkThumbprint(proof.protectedHeader.jwk)
  }

  /** The claims of an access token: one we signed, complete, and of a live session; else undefined. */
  async function verifyToken(token) {
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

  /**
   * The claims of the access token the request presents, or undefined. With DPoP the token must
   * come as `DPoP <token>` (a bound token sent as Bearer is refused), with a proof made for it by
   * the key it is bound to (cnf.jkt); a refused proof throws.
   */
  async function verifyAccess(request, response, url) {
    if (!settings.dpop) return verifyToken(/^Bearer ([\w.-]+)$/i.exec(request.headers.authorization ?? '')?.[1])
    const token = /^DPoP ([\w.-]+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (!token) return undefined
    const jkt = await checkProof(request, response, url, token)
    const claims = await verifyToken(token)
    return claims?.cnf?.jkt === jkt ? claims : undefined
  }

  /** The claims an API route acts on; anything less is a 401 saying how to authenticate, and counted. */
  async function authorize(request, response, url) {
    let claims
    try {
      claims = await verifyAccess(request, response, url)
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) stats.unauthorized++
      throw error
    }
    if (claims) return claims
    stats.unauthorized++
    const [scheme, kind] = settings.dpop ? ['DPoP', 'DPoP-bound token and a proof of its key'] : ['Bearer', 'bearer token']
    throw new HttpError(401, 'invalid_token', `a valid, unexpired, unrevoked ${kind} is required`, { 'www-authenticate': `${scheme} error="invalid_token"` })
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
    const body = { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresIn: tokens.expiresIn }
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
    'POST /auth/login': async (request, response, url) => {
      stats.login++
      // The proof first: a refused one, or a nonce still to fetch, costs no password check.
      const jkt = settings.dpop ? await checkProof(request, response, url) : undefined
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
      return [200, tokenResponse(response, await issue(username, undefined, jkt))]
    },
    'POST /auth/refresh': async (request, response, url) => {
      stats.refresh++
      // Before the token is looked at: a refused proof spends nothing, and may be sent again.
      const jkt = settings.dpop ? await checkProof(request, response, url) : undefined
      const body = await readJson(request)
      const token = refreshMode === 'cookie' ? cookies(request)[REFRESH_COOKIE] : body.refreshToken
      const family = redeem(token, jkt)
      if (!family) {
        if (refreshMode === 'cookie') response.setHeader('set-cookie', refreshCookie('', 0))
        throw new HttpError(401, 'invalid_grant', 'the refresh token is unknown, expired, revoked or was already used')
      }
      return [200, tokenResponse(response, await issue(family.sub, family))]
    },
    'POST /auth/logout': async (request, response, url) => {
      stats.logout++
      const body = await readJson(request)
      const token = refreshMode === 'cookie' ? cookies(request)[REFRESH_COOKIE] : body.refreshToken
      // With DPoP an access token names its session only with a good proof of its key. A refused
      // proof is not answered here: logout must work, so the refresh token still ends its session.
      const claims = await verifyAccess(request, response, url).catch((error) => {
        if (error instanceof HttpError) return undefined
        throw error
      })
      // The family of the refresh token (any generation we issued), or of the access token: either
      // ends the whole session.
      for (const family of [genuineFamily(token)?.family, claims && families.get(claims.sid)]) if (family) revoke(family)
      if (refreshMode === 'cookie') response.setHeader('set-cookie', refreshCookie('', 0))
      return [204]
    },
    'GET /api/me': async (request, response, url) => {
      stats.api++
      const claims = await authorize(request, response, url)
      return [200, { sub: claims.sub, name: claims.name, exp: claims.exp, checkedAt: Date.now() }]
    },
    'GET /api/config': async () => [
      200,
      { accessTokenLifetimeSec, refreshMode, sessionLifetimeSec, idleTimeoutSec: settings.idleTimeoutSec, oidcIssuer: oidcIssuer(), dpop: settings.dpop, dpopNonce: settings.dpopNonce },
    ],
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
      const [status, body] = await handler(request, response, url)
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
    sweepProofs(now)
  }
  const sweeper = setInterval(sweep, 60_000)
  sweeper.unref()

  return {
    url: origin,
    stats,
    /** How many entries the server holds in memory, after dropping the spent ones. */
    held: () => {
      sweep()
      return { families: families.size, throttled: throttle.size, dpopProofs: seenProofs.size }
    },
    close: () =>
      new Promise((resolve) => {
        clearInterval(sweeper)
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}
