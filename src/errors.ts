import { DEV } from './dev.js'

/**
 * Every way a tokenkeeper operation can fail, so callers can `switch (error.code)`.
 *
 * - `invalid_credentials`: the server refused the login (400 or 401).
 * - `invalid_response`: the server answered 2xx with something that is not a usable token response.
 * - `session_expired`: the session can no longer be renewed; the user must log in again.
 * - `network`: the request never got an answer (offline, DNS, CORS, connection reset).
 * - `timeout`: the request got no answer within `requestTimeoutMs`.
 * - `server`: the server answered 5xx, 429 or another unexpected status.
 * - `insecure_transport`: a URL on plain `http:` that is not localhost.
 * - `storage`: the token storage threw or refused the record.
 * - `invalid_argument`: a method was called with an argument of the wrong shape.
 * - `no_session`: the operation needs a session and there is none (logged out, or logout won a race).
 * - `aborted`: `logout()` was called while `login()` was still waiting for the server.
 * - `destroyed`: the client was destroyed with `destroy()`.
 * - `login_refused`: the identity provider sent the user back with an error (`access_denied`:
 *   the user cancelled or was not allowed; `login_required`, `consent_required`...).
 * - `invalid_callback`: a redirect back from the identity provider that no login of this page
 *   started (no `state`, an unknown, expired or already used one) or from another issuer (`iss`).
 *
 * @example
 * ```ts
 * auth.on('error', (error) => {
 *   if (error.code === 'storage') showBanner('Your browser refused to keep the session')
 * })
 * ```
 */
export type AuthErrorCode =
  | 'invalid_credentials'
  | 'invalid_response'
  | 'session_expired'
  | 'network'
  | 'timeout'
  | 'server'
  | 'insecure_transport'
  | 'storage'
  | 'invalid_argument'
  | 'no_session'
  | 'aborted'
  | 'destroyed'
  | 'login_refused'
  | 'invalid_callback'

/**
 * What an {@link AuthError} carries besides its code and message.
 *
 * @example
 * ```ts
 * new AuthError('server', 'refresh: POST https://api.example.com/auth/refresh answered 503', { status: 503, retryAfterMs: 30_000 })
 * ```
 */
export interface AuthErrorOptions {
  /** The underlying error, kept for debugging. */
  cause?: unknown
  /** The HTTP status the server answered, when there was one. */
  status?: number
  /** Milliseconds the server asked us to wait (`Retry-After`), when it did. */
  retryAfterMs?: number
}

/**
 * The one error class tokenkeeper throws and emits. Its message names the operation and the URL and
 * never contains a token or a credential.
 *
 * @example
 * ```ts
 * try {
 *   await auth.login({ username, password })
 * } catch (error) {
 *   if (isAuthError(error) && error.code === 'invalid_credentials') showWrongPassword()
 *   else throw error
 * }
 * ```
 */
export class AuthError extends Error {
  /** Always `'AuthError'`, so the type guard works across realms. */
  override name = 'AuthError' as const
  // The constructor sets the next three: `declare` keeps them out of the emitted class body.
  /** What went wrong, for `switch (error.code)`. */
  declare readonly code: AuthErrorCode
  /** The HTTP status the server answered, when there was one. */
  declare readonly status: number | undefined
  /** Milliseconds the server asked to wait (`Retry-After`), when it did. */
  declare readonly retryAfterMs: number | undefined

  /** An empty `message` (as the production build gives) says the code, and where it is explained. */
  constructor(code: AuthErrorCode, message: string, options: AuthErrorOptions = {}) {
    super(message || `${code}: see tokenkeeper's README, Errors`, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
  }
}

/**
 * Tells whether `value` is an {@link AuthError}, also across realms (iframes, duplicated bundles),
 * where `instanceof` fails.
 *
 * @example
 * ```ts
 * auth.on('error', (error) => isAuthError(error) && console.warn(error.code))
 * ```
 */
export function isAuthError(value: unknown): value is AuthError {
  return (
    value instanceof AuthError ||
    (value instanceof Error && value.name === 'AuthError' && typeof (value as AuthError).code === 'string')
  )
}

/** The failures that may pass: worth a retry, and never a reason to end the session. */
export type TransientCode = 'network' | 'timeout' | 'server' | 'invalid_response'

/** Whether a failure with this code is transient. The one place that decides it. */
export const isTransient = (code: unknown): code is TransientCode =>
  code === 'network' || code === 'timeout' || code === 'server' || code === 'invalid_response'

/** Why `operation` cannot go on: the client was destroyed, or there is no session (any more). */
export const noSessionError = (destroyed: boolean, operation: string): AuthError =>
  new AuthError(destroyed ? 'destroyed' : 'no_session', DEV ? `${operation}: ${destroyed ? 'the client was destroyed' : 'there is no session'}` : '')
