import { http, HttpResponse, type RequestHandler } from 'msw'
import { createJwtSigner } from './jwt.js'

/**
 * How a mock auth server behaves. Every field has a default.
 *
 * @example
 * ```ts
 * const mock = createMockAuthServer({ baseUrl: 'https://api.example.com', accessTokenLifetimeSec: 10, users: { ada: 'lovelace' } })
 * ```
 */
export interface MockAuthServerOptions {
  /** Origin (and optional path) the server answers on. @default 'https://api.example.com' */
  baseUrl?: string
  /** Access token lifetime in seconds, sent as `expires_in` and as `exp - iat`. @default 300 */
  accessTokenLifetimeSec?: number
  /** Users it accepts, name to password. @default { ada: 'lovelace' } */
  users?: Record<string, string>
  /** Issue a new refresh token on every refresh. @default true */
  rotateRefreshTokens?: boolean
  /** A refresh token used twice revokes its whole family (RFC 9700 §4.14.2). @default true */
  reuseDetection?: boolean
}

/**
 * A failure injected into the next refreshes.
 *
 * @example
 * ```ts
 * mock.failNextRefreshes(2, { kind: 'rate-limited', retryAfterSec: 30 })
 * ```
 */
export type RefreshFailure =
  | {
      /** A 5xx answer: transient, the client retries. */
      kind: 'server-error'
      /** @default 500 */
      status?: number
    }
  | {
      /** 400 `{ error: 'invalid_grant' }`: final, the session expires. */
      kind: 'invalid_grant'
    }
  | {
      /** 429 with `Retry-After`. */
      kind: 'rate-limited'
      /** Seconds sent in `Retry-After`. */
      retryAfterSec: number
    }
  | {
      /** The request fails without an answer. */
      kind: 'network-error'
    }

/**
 * What the server received, for assertions.
 *
 * @example
 * ```ts
 * expect(mock.counts.refresh).toBe(1) // 50 parallel requests, one refresh
 * ```
 */
export interface MockAuthServerCounts {
  /** Login requests (json login and oauth2 password grants), successful or not. */
  login: number
  /** Refresh requests (json refresh and oauth2 refresh_token grants), including failed ones. */
  refresh: number
  /** json logout requests. */
  logout: number
  /** oauth2 revocation requests. */
  revoke: number
  /** Requests to the protected `GET /api/me`. */
  api: number
  /** Of those, the ones answered 401. */
  unauthorized: number
  /** Refresh tokens presented a second time. */
  reuseDetected: number
}

/**
 * One token pair the server issued (at a login or a refresh), and what became of its refresh token.
 *
 * @example
 * ```ts
 * // Every refresh token ends rotated, revoked, or as the one the app holds now.
 * const alive = mock.issued().filter((tokens) => tokens.status === 'current')
 * expect(alive.map((tokens) => tokens.family)).toEqual([currentFamily])
 * ```
 */
export interface IssuedTokens {
  /** The login the tokens descend from: 1 for the first login this server answered, 2 for the next, and so on. */
  family: number
  /** The user they were issued to. */
  sub: string
  /** Whether a login or a refresh issued them. */
  grant: 'login' | 'refresh'
  /** The access token issued. */
  accessToken: string
  /** The refresh token issued with it. */
  refreshToken: string
  /**
   * The refresh token's fate when `issued()` was called: `current` (the one its family redeems
   * next), `rotated` (a refresh replaced it) or `revoked` (its family was revoked: logout,
   * revocation, reuse detection or `revokeAllSessions()`).
   */
  status: 'current' | 'rotated' | 'revoked'
}

/**
 * One refresh request the server received, and how it answered.
 *
 * @example
 * ```ts
 * const refused = mock.refreshes().filter((attempt) => attempt.outcome !== 'issued')
 * ```
 */
export interface RefreshAttempt {
  /** The refresh token presented, if any. */
  refreshToken: string | undefined
  /** The family of the presented token, if the server ever issued it. */
  family: number | undefined
  /**
   * `issued` (new tokens sent), `refused` (unknown or revoked token: 400 invalid_grant),
   * `reused` (a rotated token presented again: 400 invalid_grant, and the family revoked when
   * reuse detection is on), or `injected` (a failure from `failNextRefreshes` answered it).
   */
  outcome: 'issued' | 'refused' | 'reused' | 'injected'
  /** The injected failure's kind, when `outcome` is `injected`. */
  injected?: RefreshFailure['kind']
}

/**
 * A running mock auth server.
 *
 * @example
 * ```ts
 * const mock: MockAuthServer = createMockAuthServer()
 * server.use(...mock.handlers)
 * ```
 */
export interface MockAuthServer {
  /** The MSW handlers: `setupServer(...mock.handlers)` or `setupWorker(...mock.handlers)`. */
  handlers: RequestHandler[]
  /** Counters of what the server received. */
  counts: MockAuthServerCounts
  /** The origin-and-path it answers on. */
  baseUrl: string
  /** Makes the next `count` refreshes fail with `failure`, then behave again. */
  failNextRefreshes(count: number, failure: RefreshFailure): void
  /** Signs an access token for `sub`, as a login would, without a refresh token. */
  issueAccessToken(sub: string, lifetimeSec?: number): Promise<string>
  /** Revokes every refresh token family, as an admin "log out everywhere" would. */
  revokeAllSessions(): void
  /**
   * Every token pair issued so far, oldest first, with each refresh token's fate as of now.
   *
   * @example
   * ```ts
   * const [first] = mock.issued()
   * await auth.logout()
   * expect(mock.issued().find((tokens) => tokens.refreshToken === first.refreshToken)?.status).toBe('revoked')
   * ```
   */
  issued(): IssuedTokens[]
  /**
   * Every refresh request received so far, oldest first, with the answer it got.
   *
   * @example
   * ```ts
   * expect(mock.refreshes().map((attempt) => attempt.outcome)).toEqual(['issued', 'issued'])
   * ```
   */
  refreshes(): RefreshAttempt[]
}

interface Family {
  id: number
  current: string
  revoked: boolean
}

/**
 * An auth server made of MSW handlers: real JWTs, rotating refresh tokens with reuse detection,
 * both wire protocols (json at /auth/*, oauth2 at /oauth/token and /oauth/revoke), a protected
 * `GET /api/me`, failure injection and counters.
 *
 * @example
 * ```ts
 * import { setupServer } from 'msw/node'
 * import { createMockAuthServer } from 'tokenkeeper/testing'
 *
 * const mock = createMockAuthServer({ baseUrl: 'https://api.example.com' })
 * const server = setupServer(...mock.handlers)
 * server.listen()
 * // ...log in as ada / lovelace, then assert on mock.counts
 * ```
 */
export function createMockAuthServer(options: MockAuthServerOptions = {}): MockAuthServer {
  const base = (options.baseUrl ?? 'https://api.example.com').replace(/\/+$/, '')
  const lifetimeSec = options.accessTokenLifetimeSec ?? 300
  const users = options.users ?? { ada: 'lovelace' }
  const rotate = options.rotateRefreshTokens ?? true
  const reuseDetection = options.reuseDetection ?? true
  const signer = createJwtSigner()

  const counts: MockAuthServerCounts = {
    login: 0,
    refresh: 0,
    logout: 0,
    revoke: 0,
    api: 0,
    unauthorized: 0,
    reuseDetected: 0,
  }
  const failures: RefreshFailure[] = []
  /** Every refresh token ever issued, to the family it belongs to. */
  const families = new Map<string, Family>()
  const revokedAccessTokens = new Set<string>()
  const log: { family: Family; sub: string; grant: 'login' | 'refresh'; accessToken: string; refreshToken: string }[] = []
  const attempts: RefreshAttempt[] = []
  let serial = 0
  let familySerial = 0

  const newRefreshToken = (): string => `rt-${++serial}-${crypto.randomUUID()}`

  async function issue(sub: string, family?: Family) {
    const iat = Math.floor(Date.now() / 1000)
    // Rotate before signing: two refreshes with one token that arrive together must not both
    // redeem it while the first is still being signed (the second is a reuse).
    let refreshToken = family?.current
    let owner = family
    if (!family || rotate) {
      refreshToken = newRefreshToken()
      owner = family ?? { id: ++familySerial, current: refreshToken, revoked: false }
      owner.current = refreshToken
      families.set(refreshToken, owner)
      subjects.set(owner, sub)
    }
    const accessToken = await signer.sign({ sub, iat, exp: iat + lifetimeSec, jti: crypto.randomUUID() })
    log.push({ family: owner!, sub, grant: family ? 'refresh' : 'login', accessToken, refreshToken: refreshToken! })
    return { access_token: accessToken, refresh_token: refreshToken, expires_in: lifetimeSec, token_type: 'Bearer' }
  }
  const subjects = new WeakMap<Family, string>()

  /** The family of a usable refresh token, or why it is refused. */
  function redeem(token: unknown, attempt: RefreshAttempt): Family | 'invalid_grant' {
    const family = typeof token === 'string' ? families.get(token) : undefined
    if (!family || family.revoked) {
      attempt.outcome = 'refused'
      return 'invalid_grant'
    }
    if (family.current !== token) {
      counts.reuseDetected++
      attempt.outcome = 'reused'
      if (reuseDetection) family.revoked = true
      return 'invalid_grant'
    }
    return family
  }

  function injectedFailure(attempt: RefreshAttempt): Response | undefined {
    const failure = failures.shift()
    if (!failure) return undefined
    attempt.outcome = 'injected'
    attempt.injected = failure.kind
    switch (failure.kind) {
      case 'server-error':
        return HttpResponse.json({ error: 'server_error' }, { status: failure.status ?? 500 })
      case 'invalid_grant':
        return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })
      case 'rate-limited':
        return HttpResponse.json(
          { error: 'slow_down' },
          { status: 429, headers: { 'retry-after': String(failure.retryAfterSec) } },
        )
      case 'network-error':
        return HttpResponse.error()
    }
  }

  async function refresh(token: unknown): Promise<Response> {
    counts.refresh++
    const attempt: RefreshAttempt = {
      refreshToken: typeof token === 'string' ? token : undefined,
      family: typeof token === 'string' ? families.get(token)?.id : undefined,
      outcome: 'issued',
    }
    attempts.push(attempt)
    const injected = injectedFailure(attempt)
    if (injected) return injected
    const family = redeem(token, attempt)
    if (family === 'invalid_grant') return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })
    return HttpResponse.json(await issue(subjects.get(family) ?? 'unknown', family))
  }

  function revokeFamily(token: unknown): void {
    const family = typeof token === 'string' ? families.get(token) : undefined
    if (family) family.revoked = true
  }

  const readJson = async (request: Request): Promise<Record<string, unknown>> => {
    try {
      const body: unknown = await request.json()
      return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
    } catch {
      return {}
    }
  }
  const readForm = async (request: Request): Promise<URLSearchParams> => new URLSearchParams(await request.text())
  const checkPassword = (username: unknown, password: unknown): username is string =>
    typeof username === 'string' && Object.hasOwn(users, username) && users[username] === password

  const handlers: RequestHandler[] = [
    http.post(`${base}/auth/login`, async ({ request }) => {
      counts.login++
      const { username, password } = await readJson(request)
      if (!checkPassword(username, password)) return HttpResponse.json({ error: 'invalid_credentials' }, { status: 401 })
      const tokens = await issue(username)
      return HttpResponse.json({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token, expiresIn: lifetimeSec })
    }),
    http.post(`${base}/auth/refresh`, async ({ request }) => {
      const response = await refresh((await readJson(request)).refreshToken)
      if (response.status !== 200) return response
      const tokens = (await response.json()) as Record<string, unknown>
      return HttpResponse.json({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token, expiresIn: lifetimeSec })
    }),
    http.post(`${base}/auth/logout`, async ({ request }) => {
      counts.logout++
      revokeFamily((await readJson(request)).refreshToken)
      const bearer = request.headers.get('authorization')?.replace(/^Bearer /, '')
      if (bearer) revokedAccessTokens.add(bearer)
      return new HttpResponse(null, { status: 204 })
    }),
    http.post(`${base}/oauth/token`, async ({ request }) => {
      const form = await readForm(request)
      const grant = form.get('grant_type')
      if (grant === 'refresh_token') return refresh(form.get('refresh_token'))
      if (grant !== 'password') return HttpResponse.json({ error: 'unsupported_grant_type' }, { status: 400 })
      counts.login++
      const username = form.get('username')
      if (!checkPassword(username, form.get('password'))) return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 })
      return HttpResponse.json(await issue(username))
    }),
    http.post(`${base}/oauth/revoke`, async ({ request }) => {
      counts.revoke++
      const token = (await readForm(request)).get('token')
      revokeFamily(token)
      if (token) revokedAccessTokens.add(token)
      return new HttpResponse(null, { status: 200 })
    }),
    http.get(`${base}/api/me`, async ({ request }) => {
      counts.api++
      const token = request.headers.get('authorization')?.match(/^Bearer (.+)$/)?.[1]
      const claims = token && !revokedAccessTokens.has(token) ? await signer.verify(token) : undefined
      if (!claims || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
        counts.unauthorized++
        return HttpResponse.json({ error: 'invalid_token' }, { status: 401, headers: { 'www-authenticate': 'Bearer' } })
      }
      return HttpResponse.json({ sub: claims.sub })
    }),
  ]

  return {
    handlers,
    counts,
    baseUrl: base,
    failNextRefreshes(count, failure) {
      for (let i = 0; i < count; i++) failures.push(failure)
    },
    issueAccessToken(sub, lifetime = lifetimeSec) {
      const iat = Math.floor(Date.now() / 1000)
      return signer.sign({ sub, iat, exp: iat + lifetime })
    },
    revokeAllSessions() {
      for (const family of families.values()) family.revoked = true
    },
    issued() {
      return log.map(({ family, ...tokens }) => ({
        family: family.id,
        ...tokens,
        status: family.revoked ? 'revoked' : family.current === tokens.refreshToken ? 'current' : 'rotated',
      }))
    },
    refreshes() {
      return attempts.map((attempt) => ({ ...attempt }))
    },
  }
}
