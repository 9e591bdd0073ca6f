import { DEV } from './dev.js'
import { systemClock } from './clock.js'
import { AuthError } from './errors.js'
import { createLog, type Logger } from './log.js'
import { defaults, type AuthClientOptions } from './options.js'
import { checkedProtocol } from './protocols/checkedProtocol.js'
import { jsonProtocol } from './protocols/json.js'
import type { AuthServer, ProtocolCalls } from './protocols/Protocol.js'
import { memoryStorage } from './storage/memoryStorage.js'
import { postToAuthServer } from './transport.js'
import { isSecureUrl, pageUrl } from './url.js'

/** Options after defaults, with every URL resolved and checked, and the protocol connected. */
export type ResolvedOptions = Required<
  Omit<AuthClientOptions, 'baseUrl' | 'protocol' | 'endpoints' | 'allowedOrigins' | 'allowInsecureHttp' | 'fetch' | 'locks' | 'idleTimeoutMs' | 'maxSessionMs' | 'debug' | 'logger'>
> &
  Pick<AuthClientOptions, 'idleTimeoutMs' | 'maxSessionMs'> & {
  /** `baseUrl` as a prefix, ending in `/`. */
  baseUrl: string
  protocol: Required<ProtocolCalls>
  allowedOrigins: ReadonlySet<string>
  fetch: typeof globalThis.fetch
  locks: LockManager | undefined
  /**
   * The debug log (`logger`, or the console with `debug: true`), in the development build only: the
   * production build never sets it, and drops every call, written `if (DEV) o.log?.(...)`.
   */
  log: Logger | undefined
}

/** The option's name in both builds; what it must be, and what it got, in the development build. */
const bad = (name: string, expected: string, value: unknown): TypeError =>
  new TypeError(DEV ? `createAuthClient: option "${name}" must be ${expected}, got ${describe(value)}` : `option "${name}": see tokenkeeper's README, Options`)

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value === 'object' && value ? 'an object' : typeof value === 'function' ? 'a function' : String(value)
}

/** A test for one option; in the development build it also says what the option must be, for the TypeError. */
type Check = ((value: unknown) => boolean) & { expected?: string }

/** Gives `test` its words in the development build; the production build keeps the bare test. */
const check = (test: (value: unknown) => boolean, expected: string): Check => (DEV ? Object.assign(test, { expected }) : test)
const is = (type: string): Check => check((v) => typeof v === type, `a ${type}`)
const optional = (test: Check): Check => check((v) => v === undefined || test(v), DEV ? test.expected! : '')
const oneOf = (...values: unknown[]): Check => check((v) => values.includes(v), DEV ? values.map((v) => `'${v}'`).join(' or ') : '')
const ms = (min: number): Check => check((v) => typeof v === 'number' && v >= min && v < Infinity, `milliseconds ≥ ${min}`)
const methods = (...names: string[]): Check =>
  check((v) => typeof v === 'object' && v !== null && names.every((name) => typeof (v as Record<string, unknown>)[name] === 'function'), `an object with ${names}`)

/** Every checked option. */
const checks: { [K in keyof AuthClientOptions]?: Check } = {
  protocol: optional(check(methods('connect'), 'a protocol value, such as oauth2() from tokenkeeper/oauth2')),
  storage: methods('getItem', 'setItem', 'removeItem'),
  storageKey: check((v) => typeof v === 'string' && v !== '', 'a non-empty string'),
  endpoints: optional(check((v) => typeof v === 'object' && v !== null, 'an object')),
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
  idleTimeoutMs: optional(ms(1)),
  maxSessionMs: optional(ms(1)),
  sessionWarningMs: ms(0),
  retryAttempts: check((v) => Number.isInteger(v) && (v as number) >= 1, 'an integer ≥ 1'),
  fetch: optional(is('function')),
  clock: methods('now', 'setTimeout', 'clearTimeout'),
  locks: check((v) => v === null || methods('request')(v), 'navigator.locks or null'),
}
// The log exists in the development build only; the production build ignores these two options.
if (DEV) Object.assign(checks, { debug: optional(is('boolean')), logger: optional(is('function')) })

/** Parses an http(s) URL that a token may travel to: https, or http to localhost unless allowed. */
function secureUrl(name: string, value: unknown, allowInsecureHttp: boolean, base?: string): URL {
  let url: URL | undefined
  try {
    url = new URL(value as string, base) // URL.canParse is missing in browsers still in use (Safari 16)
  } catch {
    // reported below
  }
  if (typeof value !== 'string' || !url || !/^https?:$/.test(url.protocol)) throw bad(name, DEV ? 'an absolute http(s) URL' : '', value)
  // Never echo a URL that carries credentials.
  if (url.username || url.password) throw bad(name, DEV ? 'a URL without user:password@' : '', '(a URL with credentials)')
  if (!allowInsecureHttp && !isSecureUrl(url)) {
    throw new AuthError('insecure_transport', DEV ? `createAuthClient: option "${name}" is plain http beyond localhost (${url.origin}); use https or allowInsecureHttp` : '')
  }
  return url
}

/**
 * Checks the options once, resolves them and connects the protocol.
 * @throws {TypeError} naming the first bad option.
 * @throws {AuthError} `insecure_transport` for plain http to a host that is not localhost.
 */
export function resolveOptions(options: AuthClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw bad('options', DEV ? 'an object' : '', options)
  const merged = {
    ...defaults,
    storage: memoryStorage(),
    clock: systemClock,
    locks: (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks ?? null,
    ...stripUndefined(options),
  }
  for (const name in checks) {
    const valid = checks[name as keyof AuthClientOptions]!
    const value = merged[name as keyof typeof merged]
    if (!valid(value)) throw bad(name, valid.expected!, value)
  }
  const insecure = merged.allowInsecureHttp
  // Joined like ky's prefix: `https://x/api` + `/auth/login` is `https://x/api/auth/login`.
  const baseUrl = secureUrl('baseUrl', options.baseUrl, insecure).href.replace(/\/?$/, '/')
  for (const moved of ['clientId', 'scope'] as const) {
    if (moved in options) throw bad(moved, DEV ? 'given to the protocol: oauth2({ clientId, scope })' : '', (options as unknown as Record<string, unknown>)[moved])
  }
  if (merged.endpoints && merged.protocol) throw bad('endpoints', DEV ? "left out with a protocol (give it the protocol's own)" : '', '')
  for (const key in merged.endpoints) {
    if (!['login', 'refresh', 'logout'].includes(key)) throw bad(`endpoints.${key}`, DEV ? 'a known endpoint' : '', key)
  }

  // `log` in the development build only: the production build neither sets it nor calls it.
  const resolved: Omit<ResolvedOptions, 'protocol' | 'log'> & { log?: Logger } = {
    ...merged,
    baseUrl,
    // The refresh cookie must be set by the login answer and sent with every refresh, cross-origin too.
    credentials: options.credentials ?? (merged.refreshTokenInCookie ? 'include' : merged.credentials),
    allowedOrigins: resolveAllowedOrigins(merged.allowedOrigins, baseUrl, insecure),
    retryMaxDelayMs: Math.max(merged.retryMaxDelayMs, merged.retryMinDelayMs),
    fetch: merged.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    locks: merged.locks ?? undefined,
  }
  if (DEV) resolved.log = createLog(merged)
  // Checked at every call too: a protocol of the app's own may post to a URL it made up.
  const send = async (operation: string, url: string, body?: string | URLSearchParams, headers?: Record<string, string>) =>
    postToAuthServer(resolved, operation, secureUrl(operation, url, insecure).href, body, headers)
  const server: AuthServer = {
    url(name, value) {
      if (typeof value !== 'string' || value === '') throw bad(name, DEV ? 'a path or a URL' : '', value)
      return secureUrl(name, /^[a-z][a-z\d+.-]*:/i.test(value) ? value : value.replace(/^\/+/, ''), insecure, baseUrl).href
    },
    post: send,
    get: send,
  }
  if (DEV) server.log = resolved.log
  // A revocation makes at most two requests (oauth2: the refresh token, then the access token).
  const calls = (merged.protocol ?? jsonProtocol(merged.endpoints)).connect(server)
  return { ...resolved, protocol: checkedProtocol(calls, resolved.clock, 2 * resolved.requestTimeoutMs + 1_000) } as ResolvedOptions
}

/** `allowedOrigins` as the client uses it: the given origins, else the auth server's and the page's (when a token may travel there). */
export function resolveAllowedOrigins(given: unknown, baseUrl: string, allowInsecureHttp: boolean): ReadonlySet<string> {
  if (given === undefined) {
    const page = pageUrl()
    // The page's own origin only when a token could travel there safely.
    return new Set([new URL(baseUrl).origin, ...(page && (allowInsecureHttp || isSecureUrl(page)) ? [page.origin] : [])])
  }
  if (!Array.isArray(given)) throw bad('allowedOrigins', DEV ? 'an array of origins' : '', given)
  return new Set(
    given.map((entry: unknown, index) => {
      const name = `allowedOrigins[${index}]`
      const url = secureUrl(name, entry, allowInsecureHttp)
      if (url.href !== `${url.origin}/`) throw bad(name, DEV ? 'an origin (scheme, host and port only)' : '', entry)
      return url.origin
    }),
  )
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
