import { systemClock, type Clock } from './clock.js'
import { AuthError } from './errors.js'
import { memoryStorage } from './storage/memoryStorage.js'
import type { TokenStorage } from './storage/TokenStorage.js'
import { isSecureUrl, pageUrl } from './url.js'

/**
 * Paths (resolved against `baseUrl`) or absolute URLs of the auth server's endpoints.
 *
 * @example
 * ```ts
 * createAuthClient({ baseUrl: 'https://api.example.com', endpoints: { login: '/session', refresh: '/session/renew' } })
 * ```
 */
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
   * The server keeps the refresh token in an HttpOnly cookie (json protocol; the safest setup):
   * a page that starts with no session asks the server for one with that cookie, so a reload
   * keeps the user logged in although the tokens live in memory only. Requests to the auth server
   * then go with `credentials: 'include'`, so a cross-origin server can set and read that cookie.
   * @default false
   */
  refreshTokenInCookie?: boolean
  /**
   * `credentials` of the requests to the auth server.
   * @default 'same-origin', or 'include' with `refreshTokenInCookie`
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
  /**
   * Give up on a storage call (`getItem`, `setItem`, `removeItem`) after this long, as if nothing
   * were stored, and go on in memory: IndexedDB-backed storages can hang for good. @default 5_000
   */
  storageTimeoutMs?: number
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
   * The Web Locks used to pick the one tab that refreshes. Without them (`null`, or a browser from
   * before 2022) cross-tab sync is off. @default navigator.locks
   */
  locks?: LockManager | null
}

/**
 * The defaults of the options that have a plain value; see {@link AuthClientOptions} for each.
 *
 * @example
 * ```ts
 * createAuthClient({ baseUrl, refreshMarginMs: defaults.refreshMarginMs * 2 })
 * ```
 */
export const defaults = {
  /** See {@link AuthClientOptions.protocol}. */
  protocol: 'json',
  /** See {@link AuthClientOptions.storageKey}. */
  storageKey: 'tokenkeeper.session',
  /** See {@link AuthClientOptions.credentials}. */
  credentials: 'same-origin',
  /** See {@link AuthClientOptions.allowInsecureHttp}. */
  allowInsecureHttp: false,
  /** See {@link AuthClientOptions.refreshMarginMs}. */
  refreshMarginMs: 60_000,
  /** See {@link AuthClientOptions.minTokenValidityMs}. */
  minTokenValidityMs: 5_000,
  /** See {@link AuthClientOptions.requestTimeoutMs}. */
  requestTimeoutMs: 10_000,
  /** See {@link AuthClientOptions.storageTimeoutMs}. */
  storageTimeoutMs: 5_000,
  /** See {@link AuthClientOptions.retryMinDelayMs}. */
  retryMinDelayMs: 1_000,
  /** See {@link AuthClientOptions.retryMaxDelayMs}. */
  retryMaxDelayMs: 60_000,
  /** See {@link AuthClientOptions.retryAttempts}. */
  retryAttempts: 3,
  /** See {@link AuthClientOptions.crossTab}. */
  crossTab: true,
  /** See {@link AuthClientOptions.refreshTokenInCookie}. */
  refreshTokenInCookie: false,
  /** See {@link AuthClientOptions.lockTimeoutMs}. */
  lockTimeoutMs: 10_000,
  /** See {@link AuthClientOptions.tabSyncTimeoutMs}. */
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
  clientId?: string | undefined
  scope?: string | undefined
  credentials: RequestCredentials
  allowedOrigins: ReadonlySet<string>
  refreshMarginMs: number
  minTokenValidityMs: number
  requestTimeoutMs: number
  storageTimeoutMs: number
  retryMinDelayMs: number
  retryMaxDelayMs: number
  retryAttempts: number
  fetch: typeof globalThis.fetch
  clock: Clock
  crossTab: boolean
  refreshTokenInCookie: boolean
  lockTimeoutMs: number
  tabSyncTimeoutMs: number
  locks: LockManager | undefined
}

const bad = (name: string, expected: string, value: unknown): TypeError =>
  new TypeError(`createAuthClient: option "${name}" must be ${expected}, got ${describe(value)}`)

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value === 'object' && value ? 'an object' : String(value)
}

/** A test for one option, and what the option must be, for the TypeError. */
type Check = [test: (value: unknown) => boolean, expected: string]

const is = (type: string): Check => [(v) => typeof v === type, `a ${type}`]
const optional = ([test, expected]: Check): Check => [(v) => v === undefined || test(v), expected]
const oneOf = (...values: unknown[]): Check => [(v) => values.includes(v), values.map((v) => `'${v}'`).join(' or ')]
const ms = (min: number): Check => [(v) => typeof v === 'number' && v >= min && v < Infinity, `milliseconds ≥ ${min}`]
const methods = (...names: string[]): Check => [
  (v) => typeof v === 'object' && v !== null && names.every((name) => typeof (v as Record<string, unknown>)[name] === 'function'),
  `an object with ${names}`,
]

/** Every checked option. */
const checks: { [K in keyof AuthClientOptions]?: Check } = {
  protocol: oneOf('json', 'oauth2'),
  storage: methods('getItem', 'setItem', 'removeItem'),
  storageKey: [(v) => typeof v === 'string' && v !== '', 'a non-empty string'],
  clientId: optional(is('string')),
  scope: optional(is('string')),
  credentials: oneOf('omit', 'same-origin', 'include'),
  allowInsecureHttp: is('boolean'),
  crossTab: is('boolean'),
  refreshTokenInCookie: is('boolean'),
  refreshMarginMs: ms(0),
  minTokenValidityMs: ms(0),
  retryMinDelayMs: ms(0),
  requestTimeoutMs: ms(1),
  storageTimeoutMs: ms(1),
  retryMaxDelayMs: ms(1),
  lockTimeoutMs: ms(1),
  tabSyncTimeoutMs: ms(1),
  retryAttempts: [(v) => Number.isInteger(v) && (v as number) >= 1, 'an integer ≥ 1'],
  fetch: optional(is('function')),
  clock: methods('now', 'setTimeout', 'clearTimeout'),
  locks: [(v) => v === null || methods('request')[0](v), 'navigator.locks or null'],
}

/** Parses an http(s) URL that a token may travel to: https, or http to localhost unless allowed. */
function secureUrl(name: string, value: unknown, allowInsecureHttp: boolean, base?: string): URL {
  let url: URL | undefined
  try {
    url = new URL(value as string, base) // URL.canParse is missing in browsers still in use (Safari 16)
  } catch {
    // reported below
  }
  if (typeof value !== 'string' || !url || !/^https?:$/.test(url.protocol)) throw bad(name, 'an absolute http(s) URL', value)
  // Never echo a URL that carries credentials.
  if (url.username || url.password) throw bad(name, 'a URL without user:password@', '(a URL with credentials)')
  if (!allowInsecureHttp && !isSecureUrl(url)) {
    throw new AuthError('insecure_transport', `createAuthClient: option "${name}" is plain http beyond localhost (${url.origin}); use https or allowInsecureHttp`)
  }
  return url
}

/**
 * Checks the options once and resolves them.
 * @throws {TypeError} naming the first bad option.
 * @throws {AuthError} `insecure_transport` for plain http to a host that is not localhost.
 */
export function resolveOptions(options: AuthClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw bad('options', 'an object', options)
  const merged = {
    ...defaults,
    storage: memoryStorage(),
    clock: systemClock,
    locks: (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks ?? null,
    ...stripUndefined(options),
  }
  for (const name in checks) {
    const [valid, expected] = checks[name as keyof AuthClientOptions]!
    const value = merged[name as keyof typeof merged]
    if (!valid(value)) throw bad(name, expected, value)
  }
  const insecure = merged.allowInsecureHttp
  const baseUrl = secureUrl('baseUrl', options.baseUrl, insecure)

  const given = (merged.endpoints ?? {}) as Record<string, unknown>
  if (typeof given !== 'object' || given === null) throw bad('endpoints', 'an object', given)
  const paths: Record<string, unknown> = { ...defaultEndpoints.json, ...defaultEndpoints.oauth2 }
  for (const key in given) {
    if (!(key in paths)) throw bad(`endpoints.${key}`, 'a known endpoint', key)
    if (given[key] !== undefined) paths[key] = given[key]
  }
  // Joined like ky's prefix: `https://x/api` + `/auth/login` is `https://x/api/auth/login`.
  const prefix = baseUrl.href.replace(/\/?$/, '/')
  const endpoints = {} as ResolvedOptions['endpoints']
  for (const key in paths) {
    const name = `endpoints.${key}`
    const value = paths[key]
    if (typeof value !== 'string' || value === '') throw bad(name, 'a path or a URL', value)
    endpoints[key as keyof ResolvedOptions['endpoints']] = secureUrl(
      name,
      /^[a-z][a-z\d+.-]*:/i.test(value) ? value : value.replace(/^\/+/, ''),
      insecure,
      prefix,
    ).href
  }

  return {
    ...merged,
    // The refresh cookie must be set by the login answer and sent with every refresh, cross-origin too.
    credentials: options.credentials ?? (merged.refreshTokenInCookie ? 'include' : merged.credentials),
    endpoints,
    allowedOrigins: resolveAllowedOrigins(merged.allowedOrigins, baseUrl, insecure),
    retryMaxDelayMs: Math.max(merged.retryMaxDelayMs, merged.retryMinDelayMs),
    fetch: merged.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    locks: merged.locks ?? undefined,
  }
}

function resolveAllowedOrigins(given: unknown, baseUrl: URL, allowInsecureHttp: boolean): ReadonlySet<string> {
  if (given === undefined) {
    const page = pageUrl()
    // The page's own origin only when a token could travel there safely.
    return new Set([baseUrl.origin, ...(page && (allowInsecureHttp || isSecureUrl(page)) ? [page.origin] : [])])
  }
  if (!Array.isArray(given)) throw bad('allowedOrigins', 'an array of origins', given)
  return new Set(
    given.map((entry: unknown, index) => {
      const name = `allowedOrigins[${index}]`
      const url = secureUrl(name, entry, allowInsecureHttp)
      if (url.href !== `${url.origin}/`) throw bad(name, 'an origin (scheme, host and port only)', entry)
      return url.origin
    }),
  )
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
