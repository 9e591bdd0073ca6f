import { systemClock, type Clock } from './clock.js'
import { AuthError } from './errors.js'
import { memoryStorage } from './storage/memoryStorage.js'
import type { TokenStorage } from './storage/TokenStorage.js'
import { isSecureUrl, pageUrl } from './url.js'

/** Paths (resolved against `baseUrl`) or absolute URLs of the auth server's endpoints. */
export interface AuthEndpoints {
  /** json protocol. @default '/auth/login' */
  login?: string
  /** json protocol. @default '/auth/refresh' */
  refresh?: string
  /** json protocol. @default '/auth/logout' */
  logout?: string
  /** oauth2 protocol: the RFC 6749 token endpoint. @default '/oauth/token' */
  token?: string
  /** oauth2 protocol: the RFC 7009 revocation endpoint. @default '/oauth/revoke' */
  revocation?: string
}

/**
 * What `createAuthClient` accepts. Only `baseUrl` is required.
 *
 * @example
 * ```ts
 * createAuthClient({ baseUrl: 'https://auth.example.com', protocol: 'oauth2', clientId: 'spa' })
 * ```
 */
export interface AuthClientOptions {
  /** The auth server; endpoints resolve against it. https, or http on localhost. */
  baseUrl: string
  /** `json` for an app's own JWT API, `oauth2` for an RFC 6749 server. @default 'json' */
  protocol?: 'json' | 'oauth2'
  /** Where the session is kept. @default memoryStorage() */
  storage?: TokenStorage
  /** The key the session is stored under. @default 'tokenkeeper.session' */
  storageKey?: string
  /** Endpoint paths or URLs; see {@link AuthEndpoints} for each default. */
  endpoints?: AuthEndpoints
  /** oauth2: the public client's `client_id`, sent with every grant and revocation. */
  clientId?: string
  /** oauth2: the `scope` asked for at login. */
  scope?: string
  /**
   * `credentials` of the requests to the auth server. Use `'include'` when a cross-origin server
   * keeps the refresh token in an HttpOnly cookie. @default 'same-origin'
   */
  credentials?: RequestCredentials
  /**
   * Origins that `auth.fetch` sends the token to, compared exactly after parsing (scheme, host,
   * port). Replaces the default. @default [origin of baseUrl, the page's own origin]
   */
  allowedOrigins?: string[]
  /**
   * Allow plain `http:` to hosts other than localhost for `baseUrl` and `allowedOrigins`. Tokens
   * then cross the network readable by anyone on the path: for closed test networks only.
   * @default false
   */
  allowInsecureHttp?: boolean
  /** Refresh this long before expiry; never more than half the token's lifetime. @default 60_000 */
  refreshMarginMs?: number
  /** An access token with less than this left is never handed out; it is refreshed first. @default 5_000 */
  minTokenValidityMs?: number
  /** Abort a request to the auth server after this long. @default 10_000 */
  requestTimeoutMs?: number
  /** Shortest wait before retrying a refresh that failed for a transient reason. @default 1_000 */
  retryMinDelayMs?: number
  /** Longest wait between retries of the exponential backoff (before `Retry-After`). @default 60_000 */
  retryMaxDelayMs?: number
  /**
   * How many refresh attempts a caller waiting for a token sits through before its call rejects.
   * Background retries go on after that, with backoff. @default 3
   */
  retryAttempts?: number
  /** The `fetch` used for every request. @default globalThis.fetch, looked up at each call */
  fetch?: typeof globalThis.fetch
  /** Timers and the clock, for tests. @default the platform's `Date.now` and `setTimeout` */
  clock?: Clock
  /**
   * Keep one session across the tabs of this origin: logins, refreshes and logouts reach every
   * tab, one tab refreshes for all, and a new tab gets the session from the others. @default true
   */
  crossTab?: boolean
  /** How long a tab waits for the refreshing tab to answer before taking over from it. @default 10_000 */
  lockTimeoutMs?: number
  /** How long a starting tab waits for the other tabs to send their session. @default 150 */
  tabSyncTimeoutMs?: number
  /**
   * The Web Locks used to pick the one tab that refreshes; `null` runs without them (a claim
   * window over the tab channel instead). @default navigator.locks
   */
  locks?: LockManager | null
}

/** The defaults of every option that has one. */
export const defaults = {
  protocol: 'json',
  storageKey: 'tokenkeeper.session',
  credentials: 'same-origin',
  allowInsecureHttp: false,
  refreshMarginMs: 60_000,
  minTokenValidityMs: 5_000,
  requestTimeoutMs: 10_000,
  retryMinDelayMs: 1_000,
  retryMaxDelayMs: 60_000,
  retryAttempts: 3,
  crossTab: true,
  lockTimeoutMs: 10_000,
  tabSyncTimeoutMs: 150,
} as const satisfies Partial<AuthClientOptions>

const defaultEndpoints = {
  json: { login: '/auth/login', refresh: '/auth/refresh', logout: '/auth/logout' },
  oauth2: { token: '/oauth/token', revocation: '/oauth/revoke' },
} as const

/** Options after defaults, with every URL resolved and checked. */
export interface ResolvedOptions {
  protocol: 'json' | 'oauth2'
  storage: TokenStorage
  storageKey: string
  endpoints: { login: string; refresh: string; logout: string; token: string; revocation: string }
  clientId: string | undefined
  scope: string | undefined
  credentials: RequestCredentials
  allowedOrigins: ReadonlySet<string>
  refreshMarginMs: number
  minTokenValidityMs: number
  requestTimeoutMs: number
  retryMinDelayMs: number
  retryMaxDelayMs: number
  retryAttempts: number
  fetch: typeof globalThis.fetch
  clock: Clock
  crossTab: boolean
  lockTimeoutMs: number
  tabSyncTimeoutMs: number
  locks: LockManager | undefined
}

const bad = (name: string, expected: string, value: unknown): TypeError =>
  new TypeError(`createAuthClient: option "${name}" must be ${expected}, got ${describe(value)}`)

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

function parseHttpUrl(name: string, value: unknown, base?: string): URL {
  let url: URL
  try {
    url = new URL(value as string, base)
  } catch {
    throw bad(name, 'an absolute http(s) URL', value)
  }
  if (typeof value !== 'string' || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw bad(name, 'an absolute http(s) URL', value)
  }
  if (url.username !== '' || url.password !== '') throw bad(name, 'a URL without user:password@', '(a URL with credentials)')
  return url
}

function requireSecure(name: string, url: URL, allowInsecureHttp: boolean): void {
  if (!allowInsecureHttp && !isSecureUrl(url)) {
    throw new AuthError(
      'insecure_transport',
      `createAuthClient: option "${name}" is ${url.origin}, plain http to a host that is not localhost; ` +
        'use https (or set allowInsecureHttp: true on a closed test network)',
    )
  }
}

/** Joins like ky's prefixUrl: `https://x/api` + `/auth/login` is `https://x/api/auth/login`. */
function endpointUrl(name: string, value: unknown, baseUrl: URL, allowInsecureHttp: boolean): string {
  if (typeof value !== 'string' || value === '') throw bad(`endpoints.${name}`, 'a path or a URL', value)
  const absolute = /^[a-z][a-z\d+.-]*:/i.test(value)
  const base = baseUrl.href.endsWith('/') ? baseUrl.href : `${baseUrl.href}/`
  const url = parseHttpUrl(`endpoints.${name}`, absolute ? value : value.replace(/^\/+/, ''), base)
  requireSecure(`endpoints.${name}`, url, allowInsecureHttp)
  return url.href
}

const positiveNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value > 0
const nonNegativeNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0

/**
 * Checks the options once and resolves them.
 * @throws {TypeError} naming the first bad option.
 * @throws {AuthError} `insecure_transport` for plain http to a host that is not localhost.
 */
export function resolveOptions(options: AuthClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw bad('options', 'an object', options)
  const merged = { ...defaults, ...stripUndefined(options) }
  if (typeof merged.allowInsecureHttp !== 'boolean') throw bad('allowInsecureHttp', 'a boolean', merged.allowInsecureHttp)
  const baseUrl = parseHttpUrl('baseUrl', options.baseUrl)
  requireSecure('baseUrl', baseUrl, merged.allowInsecureHttp)

  if (merged.protocol !== 'json' && merged.protocol !== 'oauth2') throw bad('protocol', "'json' or 'oauth2'", merged.protocol)
  const storage = merged.storage ?? memoryStorage()
  if (
    typeof storage !== 'object' ||
    storage === null ||
    typeof storage.getItem !== 'function' ||
    typeof storage.setItem !== 'function' ||
    typeof storage.removeItem !== 'function'
  ) {
    throw bad('storage', 'an object with getItem, setItem and removeItem', storage)
  }
  if (typeof merged.storageKey !== 'string' || merged.storageKey === '') throw bad('storageKey', 'a non-empty string', merged.storageKey)
  for (const name of ['clientId', 'scope'] as const) {
    if (merged[name] !== undefined && typeof merged[name] !== 'string') throw bad(name, 'a string', merged[name])
  }
  if (!['omit', 'same-origin', 'include'].includes(merged.credentials)) {
    throw bad('credentials', "'omit', 'same-origin' or 'include'", merged.credentials)
  }
  for (const name of ['refreshMarginMs', 'minTokenValidityMs', 'retryMinDelayMs'] as const) {
    if (!nonNegativeNumber(merged[name])) throw bad(name, 'a number of milliseconds ≥ 0', merged[name])
  }
  for (const name of ['requestTimeoutMs', 'retryMaxDelayMs', 'lockTimeoutMs', 'tabSyncTimeoutMs'] as const) {
    if (!positiveNumber(merged[name])) throw bad(name, 'a number of milliseconds > 0', merged[name])
  }
  if (!(Number.isInteger(merged.retryAttempts) && merged.retryAttempts >= 1)) {
    throw bad('retryAttempts', 'an integer ≥ 1', merged.retryAttempts)
  }
  if (merged.fetch !== undefined && typeof merged.fetch !== 'function') throw bad('fetch', 'a function', merged.fetch)
  if (typeof merged.crossTab !== 'boolean') throw bad('crossTab', 'a boolean', merged.crossTab)
  const locks = options.locks === undefined ? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks : options.locks
  if (locks !== null && locks !== undefined && typeof locks.request !== 'function') {
    throw bad('locks', 'a LockManager (navigator.locks) or null', locks)
  }
  const clock = merged.clock ?? systemClock
  if (typeof clock !== 'object' || clock === null || !['now', 'setTimeout', 'clearTimeout'].every((k) => typeof (clock as unknown as Record<string, unknown>)[k] === 'function')) {
    throw bad('clock', 'an object with now, setTimeout and clearTimeout', clock)
  }

  const given = merged.endpoints ?? {}
  if (typeof given !== 'object' || given === null) throw bad('endpoints', 'an object', given)
  for (const key of Object.keys(given)) {
    if (!['login', 'refresh', 'logout', 'token', 'revocation'].includes(key)) throw bad(`endpoints.${key}`, 'a known endpoint', key)
  }
  const paths = { ...defaultEndpoints.json, ...defaultEndpoints.oauth2, ...stripUndefined(given) }
  const endpoints = {
    login: endpointUrl('login', paths.login, baseUrl, merged.allowInsecureHttp),
    refresh: endpointUrl('refresh', paths.refresh, baseUrl, merged.allowInsecureHttp),
    logout: endpointUrl('logout', paths.logout, baseUrl, merged.allowInsecureHttp),
    token: endpointUrl('token', paths.token, baseUrl, merged.allowInsecureHttp),
    revocation: endpointUrl('revocation', paths.revocation, baseUrl, merged.allowInsecureHttp),
  }

  return {
    protocol: merged.protocol,
    storage,
    storageKey: merged.storageKey,
    endpoints,
    clientId: merged.clientId,
    scope: merged.scope,
    credentials: merged.credentials,
    allowedOrigins: resolveAllowedOrigins(merged.allowedOrigins, baseUrl, merged.allowInsecureHttp),
    refreshMarginMs: merged.refreshMarginMs,
    minTokenValidityMs: merged.minTokenValidityMs,
    requestTimeoutMs: merged.requestTimeoutMs,
    retryMinDelayMs: merged.retryMinDelayMs,
    retryMaxDelayMs: Math.max(merged.retryMaxDelayMs, merged.retryMinDelayMs),
    retryAttempts: merged.retryAttempts,
    fetch: merged.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock,
    crossTab: merged.crossTab,
    lockTimeoutMs: merged.lockTimeoutMs,
    tabSyncTimeoutMs: merged.tabSyncTimeoutMs,
    locks: locks ?? undefined,
  }
}

function resolveAllowedOrigins(given: unknown, baseUrl: URL, allowInsecureHttp: boolean): ReadonlySet<string> {
  if (given === undefined) {
    const page = pageUrl()
    const origins = [baseUrl.origin]
    // The page's own origin only when a token could travel there safely.
    if (page && (allowInsecureHttp || isSecureUrl(page))) origins.push(page.origin)
    return new Set(origins)
  }
  if (!Array.isArray(given)) throw bad('allowedOrigins', 'an array of origins', given)
  return new Set(
    given.map((entry: unknown, index) => {
      const url = parseHttpUrl(`allowedOrigins[${index}]`, entry)
      if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
        throw bad(`allowedOrigins[${index}]`, 'an origin (scheme, host and port only)', entry)
      }
      requireSecure(`allowedOrigins[${index}]`, url, allowInsecureHttp)
      return url.origin
    }),
  )
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
