import type { JwtPayload } from 'jwt-decode'
import type { AuthError } from './errors.js'
import type { Session } from './session.js'

/**
 * Why a session ended through `logout()`: here, or in another tab.
 *
 * @example
 * ```ts
 * auth.on('logout', ({ reason }) => reason === 'other-tab' && toast('You logged out in another tab'))
 * ```
 */
export type LogoutReason = 'user' | 'other-tab'

/**
 * Why a session expired: the refresh was refused (or nothing could renew the token), nobody used
 * any tab for `idleTimeoutMs`, or `maxSessionMs` passed since the login.
 *
 * @example
 * ```ts
 * auth.on('session-expired', ({ reason }) => router.push(reason === 'idle' ? '/login?idle' : '/login'))
 * ```
 */
export type ExpiryReason = 'refresh-refused' | 'idle' | 'max-age'

/**
 * The events of an {@link AuthClient} and their payloads. No payload holds a token except a `Session`.
 *
 * @example
 * ```ts
 * const log = <K extends keyof AuthEvents>(type: K) => auth.on(type, (payload) => console.debug(type, payload))
 * ```
 */
export interface AuthEvents<Claims = JwtPayload> {
  /** `login()` succeeded (or a login in another tab reached this one). */
  login: Session<Claims>
  /** A refresh succeeded, here or in another tab. */
  refresh: Session<Claims>
  /** The session was ended by `logout()`, here or in another tab. */
  logout: {
    /** `'user'` when `logout()` was called in this tab, `'other-tab'` when in another. */
    reason: LogoutReason
  }
  /** The session can no longer be renewed; send the user to the login page. Emitted once. */
  'session-expired': {
    /** Why, as an error with code `session_expired`: the refresh was refused, or a session policy ended it. */
    error: AuthError
    /** Which: the same in every tab. */
    reason: ExpiryReason
  }
  /**
   * The session ends at `expiresAt` (ms since epoch) by `idleTimeoutMs` or `maxSessionMs`: time to
   * ask "still there?". For `'idle'`, activity in any tab or `auth.extendSession()` puts it off.
   */
  'session-warning': {
    /** Which limit: `'idle'` (`idleTimeoutMs`) or `'max-age'` (`maxSessionMs`). */
    reason: Exclude<ExpiryReason, 'refresh-refused'>
    /** When the session ends, in ms since the epoch (local clock). */
    expiresAt: number
  }
  /** After an idle `session-warning`: activity in some tab, or `auth.extendSession()`, put the end off. */
  'session-extended': {
    /** The next end, by idleness or `maxSessionMs`, whichever comes first. */
    expiresAt: number
  }
  /** A failure the client survives and retries: network, 5xx, 429, storage. */
  error: AuthError
  /** The session changed, whatever the cause: the one event a UI binding needs. */
  change: Session<Claims> | null
}
