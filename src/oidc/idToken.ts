import { AuthError } from '../errors.js'
import { DEV } from '../dev.js'
import { decodeClaims } from '../session.js'

/** What an ID token must match. */
export interface Expected {
  issuer: string
  clientId: string
  /** The nonce the login sent; absent on refresh. */
  nonce?: string
  /** The session's ID token, on refresh: the new one must name the same user (OIDC Core 12.2). */
  previous?: string
}

type Claims = { iss?: unknown; aud?: unknown; azp?: unknown; exp?: unknown; iat?: unknown; nonce?: unknown; sub?: unknown }

/**
 * Checks an ID token from the token endpoint (OIDC Core 3.1.3.7) and returns it. Its signature is
 * not checked: it came straight from the token endpoint over TLS, which 3.1.3.7 allows, and a
 * signature check would need the provider's keys and a JOSE library in every app's bundle.
 *
 * `exp` and `iat` are checked for shape and order (`exp` after `iat`), not against this device's
 * clock: a device whose clock is wrong by minutes would otherwise never log in. The nonce is what
 * proves the token was made for this login; on refresh, the token came in answer to a refresh
 * token only this session holds.
 * @throws {AuthError} `invalid_response` at login, `session_expired` at refresh (the refresh token
 *   is spent, and the answer cannot be trusted).
 */
export function checkIdToken(operation: 'login' | 'refresh', idToken: unknown, expected: Expected): string {
  const fail = (why: string): AuthError => new AuthError(operation === 'login' ? 'invalid_response' : 'session_expired', DEV ? `${operation}: the ID token ${why}` : '')
  const claims = decodeClaims(idToken) as Claims | undefined
  if (!claims || typeof idToken !== 'string') throw fail('is missing or not a JWT')
  const { iss, aud, azp, exp, iat, sub, nonce } = claims
  const audiences = Array.isArray(aud) ? aud : [aud]
  if (iss !== expected.issuer) throw fail('is from another issuer')
  // With several audiences, the authorized party must be this client (OIDC Core 2, 3.1.3.7 items 4 and 5).
  if (!audiences.includes(expected.clientId) || ((audiences.length > 1 || azp !== undefined) && azp !== expected.clientId)) throw fail('is for another client')
  if (typeof exp !== 'number' || typeof iat !== 'number' || !(exp > iat)) throw fail('has no valid exp and iat')
  if (typeof sub !== 'string' || !sub) throw fail('names no subject')
  const previous = decodeClaims(expected.previous) as Claims | undefined
  if (previous && sub !== previous.sub) throw fail('names another user than the session')
  // At login the nonce must be the one sent; on refresh any nonce must be the original one (12.2).
  const wanted = expected.nonce ?? previous?.nonce
  if ((expected.nonce !== undefined || nonce !== undefined) && nonce !== wanted) throw fail('has another nonce')
  return idToken
}
