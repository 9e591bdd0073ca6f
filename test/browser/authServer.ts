import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'

/**
 * A small real auth server for the browser tests: signed JWTs, rotating refresh tokens whose reuse
 * revokes the whole family, and counters of what it saw. It also serves the built package and a
 * test page, so the page and the server share one origin. Users are ada/lovelace and grace/hopper;
 * every access token carries `sid`, the id of its refresh-token family (one per login).
 */
export interface TestAuthServer {
  url: string
  stats: { login: number; refresh: number; logout: number; reuseDetected: number; api: number; apiWithToken: number }
  /**
   * Refresh requests being answered now, and when the last answer went out (ms since epoch): a test
   * that closes a tab waits for a quiet moment, since a tab closed while its refresh is on the wire
   * loses the rotated token, and no client can know whether the server rotated.
   */
  refreshActivity: { inFlight: number; lastAnsweredAt: number }
  setLifetime(seconds: number): void
  /** From now on `/api/*` answers 401 to this access token, as a server that revoked it would. */
  rejectAccessToken(token: string): void
  resetStats(): void
  close(): Promise<void>
}

const users: Record<string, string> = { ada: 'lovelace', grace: 'hopper' }

interface Family {
  current: string
  revoked: boolean
  sub: string
  sid: string
}

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url')

export async function startTestAuthServer(root: string): Promise<TestAuthServer> {
  const key = randomBytes(32)
  let lifetimeSec = 60
  const stats = { login: 0, refresh: 0, logout: 0, reuseDetected: 0, api: 0, apiWithToken: 0 }
  const refreshActivity = { inFlight: 0, lastAnsweredAt: 0 }
  const families = new Map<string, Family>()
  const rejected = new Set<string>()

  const sign = (payload: object) => {
    const input = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(payload))}`
    return `${input}.${base64url(createHmac('sha256', key).update(input).digest())}`
  }
  const verify = (token: string) => {
    const [header, payload, signature] = token.split('.')
    if (!header || !payload || !signature) return undefined
    const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest()
    const given = Buffer.from(signature, 'base64url')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp: number; sub: string }
    return claims.exp * 1000 > Date.now() ? claims : undefined
  }
  const issue = (sub: string, family?: Family) => {
    const iat = Math.floor(Date.now() / 1000)
    const refreshToken = `rt-${randomUUID()}`
    const owner = family ?? { current: refreshToken, revoked: false, sub, sid: randomUUID() }
    owner.current = refreshToken
    families.set(refreshToken, owner)
    // A jti makes every token new, even two issued within the same second.
    const claims = { sub, sid: owner.sid, iat, exp: iat + lifetimeSec, jti: randomUUID() }
    return { accessToken: sign(claims), refreshToken, expiresIn: lifetimeSec }
  }

  const readJson = async (request: IncomingMessage): Promise<Record<string, unknown>> => {
    let raw = ''
    for await (const chunk of request) raw += chunk
    try {
      const body: unknown = JSON.parse(raw)
      return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
    } catch {
      return {}
    }
  }
  // Open to any origin (no cookies involved), so a sandboxed frame, whose origin is opaque, can use it too.
  const cors = { 'access-control-allow-origin': '*' }
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { ...cors, 'content-type': 'application/json', 'cache-control': 'no-store' })
    response.end(JSON.stringify(body))
  }
  const types: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' }

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { ...cors, 'access-control-allow-headers': 'content-type, authorization, accept', 'access-control-allow-methods': 'POST, PUT' })
      return void response.end()
    }
    try {
      if (request.method === 'POST' && url.pathname === '/auth/login') {
        stats.login++
        const { username, password } = await readJson(request)
        const known = typeof username === 'string' && Object.hasOwn(users, username) && users[username] === password
        if (!known) return json(response, 401, { error: 'invalid_credentials' })
        return json(response, 200, issue(username as string))
      }
      if (request.method === 'POST' && url.pathname === '/auth/refresh') {
        stats.refresh++
        refreshActivity.inFlight++
        try {
          const { refreshToken } = await readJson(request)
          const family = typeof refreshToken === 'string' ? families.get(refreshToken) : undefined
          if (!family || family.revoked) return json(response, 401, { error: 'invalid_grant' })
          if (family.current !== refreshToken) {
            stats.reuseDetected++
            family.revoked = true
            return json(response, 401, { error: 'invalid_grant' })
          }
          return json(response, 200, issue(family.sub, family))
        } finally {
          refreshActivity.inFlight--
          refreshActivity.lastAnsweredAt = Date.now()
        }
      }
      if (request.method === 'POST' && url.pathname === '/auth/logout') {
        stats.logout++
        const { refreshToken } = await readJson(request)
        const family = typeof refreshToken === 'string' ? families.get(refreshToken) : undefined
        if (family) family.revoked = true
        response.writeHead(204, cors).end()
        return
      }
      if (url.pathname === '/api/redirect') {
        // Sends the request on to `to`, a URL on this server (under either loopback name), with its
        // method and body (307). Counted by where it lands, not here.
        const to = new URL(url.searchParams.get('to') ?? '/', `http://${request.headers.host}`)
        if (to.port !== String((server.address() as AddressInfo).port)) return json(response, 400, { error: 'not_this_server' })
        response.writeHead(307, { ...cors, location: to.href }).end()
        return
      }
      if (url.pathname === '/api/denied') {
        stats.api++
        return json(response, 401, { error: 'invalid_token' }) // whatever the token
      }
      if (url.pathname === '/api/me' || url.pathname === '/api/echo') {
        stats.api++
        const token = request.headers.authorization?.replace(/^Bearer /, '')
        if (token) stats.apiWithToken++
        let body = ''
        for await (const chunk of request) body += chunk
        const claims = token && !rejected.has(token) ? verify(token) : undefined
        if (!claims) return json(response, 401, { error: 'invalid_token' })
        if (url.pathname === '/api/me') return json(response, 200, { sub: claims.sub })
        // What arrived, so a test can tell a replayed request from the original.
        return json(response, 200, { method: request.method, contentType: request.headers['content-type'] ?? null, body })
      }
      const path = url.pathname === '/' ? '/test/browser/page.html' : url.pathname
      const served = /^\/(dist|node_modules\/(jwt-decode|ky|axios))\//.test(path) || path === '/test/browser/page.html' || path === '/test/browser/oidc.html'
      if (!served) return json(response, 404, { error: 'not_found' })
      const file = normalize(join(root, path))
      if (!file.startsWith(root)) return json(response, 404, { error: 'not_found' })
      const body = await readFile(file)
      response.writeHead(200, { ...cors, 'content-type': types[extname(file)] ?? 'application/octet-stream' })
      response.end(body)
    } catch {
      if (!response.headersSent) json(response, 500, { error: 'server_error' })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    refreshActivity,
    setLifetime: (seconds) => void (lifetimeSec = seconds),
    rejectAccessToken: (token) => void rejected.add(token),
    resetStats: () => Object.assign(stats, { login: 0, refresh: 0, logout: 0, reuseDetected: 0, api: 0, apiWithToken: 0 }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
