import { AuthError } from '../errors.js'
import type { TokenResponse } from '../session.js'
import type { ServerAnswer } from '../transport.js'
import type { AuthServer } from './Protocol.js'
import { DEV } from '../dev.js'

const pick = (body: Record<string, unknown>, camel: string, snake: string): unknown => body[camel] ?? body[snake]

/**
 * Reads a token response in either naming (`accessToken` or `access_token`, and so on); returns
 * why it is unusable instead of throwing.
  *
 * @example
 * ```ts
 * parseTokenResponse({ access_token: jwt, expires_in: 300 }) // { accessToken: jwt, refreshToken: undefined, expiresInSec: 300 }
 * parseTokenResponse({ token: jwt }) // 'no access token'
 * ```
 */
export function parseTokenResponse(body: unknown): TokenResponse | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'not a JSON object'
  const record = body as Record<string, unknown>
  const accessToken = pick(record, 'accessToken', 'access_token')
  const refreshToken = pick(record, 'refreshToken', 'refresh_token')
  const expiresIn = pick(record, 'expiresIn', 'expires_in')
  if (typeof accessToken !== 'string' || !accessToken) return 'no access token'
  if (refreshToken != null && (typeof refreshToken !== 'string' || !refreshToken)) return 'a bad refresh token'
  if (expiresIn !== undefined && !(typeof expiresIn === 'number' && expiresIn > 0 && expiresIn < Infinity)) {
    return 'a bad expires_in'
  }
  return {
    accessToken,
    refreshToken: typeof refreshToken === 'string' ? refreshToken : undefined,
    expiresInSec: expiresIn as number | undefined,
  }
}

/** The server's own error code (`invalid_grant`...), only when it looks like one (snake_case, short): never echo free text or a token. */
function serverErrorCode(body: unknown): string | undefined {
  const code = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined
  return typeof code === 'string' && /^[a-z][a-z\d_]{0,39}$/.test(code) ? code : undefined
}

/** 408 and 429 say "later"; any other 4xx says the refresh token is no good. */
const isFinalRefreshRefusal = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429

/**
 * Turns the answer to a login or refresh into tokens, or into the `AuthError` it deserves: a 400
 * or 401 to a login is `invalid_credentials`; `invalid_grant` or another final 4xx to a refresh is
 * `session_expired`; anything else is `server`, and a 2xx without usable tokens `invalid_response`.
  *
 * @example
 * ```ts
 * const answer = await server.post('refresh', url, body, headers)
 * return judgeTokenAnswer(answer, 'refresh', url) // invalid_grant: throws AuthError('session_expired')
 * ```
 */
export function judgeTokenAnswer(answer: ServerAnswer, operation: 'login' | 'refresh', url: string): TokenResponse {
  if (answer.ok) {
    const tokens = parseTokenResponse(answer.body)
    if (typeof tokens !== 'string') return tokens
    throw new AuthError('invalid_response', DEV ? `${operation}: POST ${url.split('?')[0]} answered ${answer.status} with ${tokens}` : '', {
      status: answer.status,
    })
  }
  const code = serverErrorCode(answer.body)
  const what = DEV ? `${operation}: POST ${url.split('?')[0]} answered ${answer.status}${code ? ` (${code})` : ''}` : ''
  const details = { status: answer.status, retryAfterMs: answer.retryAfterMs }
  if (operation === 'login' && (answer.status === 400 || answer.status === 401)) {
    throw new AuthError('invalid_credentials', what, details)
  }
  if (operation === 'refresh' && (code === 'invalid_grant' || isFinalRefreshRefusal(answer.status))) {
    throw new AuthError('session_expired', what, details)
  }
  throw new AuthError('server', what, details)
}

/** POSTs a login or refresh grant and returns the tokens, or throws the `AuthError` the answer deserves.  *
 * @example
 * ```ts
 * refresh: (refreshToken) => requestTokens(server, 'refresh', url, JSON.stringify({ refreshToken }), { 'content-type': 'application/json' })
 * ```
 */
export async function requestTokens(
  server: AuthServer,
  operation: 'login' | 'refresh',
  url: string,
  body: string | URLSearchParams,
  headers: Record<string, string>,
): Promise<TokenResponse> {
  return judgeTokenAnswer(await server.post(operation, url, body, headers), operation, url)
}

/** POSTs a revocation: confirmed on any 2xx (RFC 7009 §2.2); failures count as unconfirmed, never thrown.  *
 * @example
 * ```ts
 * revoke: (accessToken, refreshToken) => revokeAt(server, url, new URLSearchParams({ token: refreshToken ?? '' }), form)
 * ```
 */
export async function revokeAt(server: AuthServer, url: string, body: string | URLSearchParams, headers: Record<string, string>): Promise<boolean> {
  try {
    return (await server.post('logout', url, body, headers)).ok
  } catch {
    return false
  }
}
