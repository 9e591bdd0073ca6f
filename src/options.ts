import type { Clock } from './clock.js'
import type { Logger } from './log.js'
import type { JsonEndpoints } from './protocols/json.js'
import type { Protocol } from './protocols/Protocol.js'
import type { TokenStorage } from './storage/TokenStorage.js'

/**
 * The json protocol's endpoints: paths (resolved against `baseUrl`) or absolute URLs. Another
 * protocol takes its own (`oauth2({ endpoints })`).
 *
 * @example
 * ```ts
 * createAuthClient({ baseUrl: 'https://api.example.com', endpoints: { login: '/session', refresh: '/session/renew' } })
 * ```
 */
export type AuthEndpoints = JsonEndpoints

/**
 * What `createAuthClient` accepts. Only `baseUrl` is required.
 *
 * @example
 * ```ts
 * createAuthClient({ baseUrl: 'https://auth.example.com', protocol: oauth2({ clientId: 'spa' }) })
 * ```
 */
export interface AuthClientOptions {
  /** The auth server; endpoints resolve against it. https, or http on localhost. */
  baseUrl: string
  /**
   * How to talk to the auth server: the built-in json protocol (for an app's own JWT API, with
   * `endpoints`), `oauth2()` from `tokenkeeper/oauth2`, or one of your own. @default the json protocol
   */
  protocol?: Protocol
  /** Where the session is kept. @default memoryStorage() */
  storage?: TokenStorage
  /** The key the session is stored under. @default 'tokenkeeper.session' */
  storageKey?: string
  /** The json protocol's endpoint paths or URLs; see {@link AuthEndpoints} for each default. */
  endpoints?: AuthEndpoints
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
  /**
   * End the session after this long with no user activity (pointer, key, wheel, touch, the page
   * shown again) in any tab of the origin, like an expiry: `session-expired` with reason `'idle'`,
   * storage cleared, revocation at the server, every tab at once. `session-warning` comes
   * `sessionWarningMs` before; activity anywhere, or `auth.extendSession()`, puts the end off again.
   * Time with no tab open counts too: the last activity is kept with the session. @default off
   */
  idleTimeoutMs?: number
  /**
   * End every session this long after its login, whatever its refreshes, reloads and tabs, like an
   * expiry: `session-expired` with reason `'max-age'`. `session-warning` comes `sessionWarningMs`
   * before. @default off
   */
  maxSessionMs?: number
  /**
   * How long before an idle or max-age end `session-warning` fires; at most half the limit.
   * @default 60_000
   */
  sessionWarningMs?: number
  /**
   * Log each step of the session's life with `console.debug('[tokenkeeper] ' + message, details)`:
   * restore, refresh scheduled and why, refreshes and retries, the leader tab, messages between
   * tabs, 401 replays, storage failures, login, logout, expiry. Never a token, a credential, a code
   * or a key. Development build only (the `development` export condition): the production build
   * has no log, and ignores this option. @default false
   */
  debug?: boolean
  /**
   * Receives the debug log instead of the console (it needs no `debug: true`); see {@link Logger}.
   * A logger that throws changes nothing. Development build only, as `debug`. @default undefined
   */
  logger?: Logger
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
  /** See {@link AuthClientOptions.sessionWarningMs}. */
  sessionWarningMs: 60_000,
} as const satisfies Partial<AuthClientOptions>
