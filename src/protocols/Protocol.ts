import { AuthError } from '../errors.js'
import type { TokenResponse } from '../session.js'
import { postToAuthServer, type ServerAnswer, type TransportConfig } from '../transport.js'

/**
 * What the app passes to `login()`. The json protocol posts it as it is, as JSON; the oauth2 protocol
 * needs string `username` and `password` (and takes an optional `scope` string). Anything else
 * rejects with `invalid_argument` before a request is made.
 *
 * @example
 * ```ts
 * await auth.login({ email: 'ada@example.com', password, otp: '123456' }) // json: any fields your API takes
 * ```
 */
export type Credentials = Record<string, unknown>

/** One wire protocol: how to log in, refresh and revoke against a kind of auth server. */
export interface Protocol {
  login(credentials: Credentials): Promise<TokenResponse>
  /** Rejects with `session_expired` when the refresh is refused for good, else a transient error. */
  refresh(refreshToken: string | undefined): Promise<TokenResponse>
  /** Resolves to whether the server confirmed the revocation; never rejects. */
  revoke(accessToken: string | undefined, refreshToken: string | undefined): Promise<boolean>
}

const pick = (body: Record<string, unknown>, camel: string, snake: string): unknown => body[camel] ?? body[snake]

/** Reads a token response in either naming; returns why it is unusable instead of throwing. */
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

/** The server's own error code (`invalid_grant`...), only when it looks like one: never echo free text. */
function serverErrorCode(body: unknown): string | undefined {
  const code = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : undefined
}

/** 408 and 429 say "later"; any other 4xx says the refresh token is no good. */
const isFinalRefreshRefusal = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429

/** Turns the answer to a login or refresh into tokens, or into the `AuthError` it deserves. */
export function judgeTokenAnswer(answer: ServerAnswer, operation: 'login' | 'refresh', url: string): TokenResponse {
  if (answer.ok) {
    const tokens = parseTokenResponse(answer.body)
    if (typeof tokens !== 'string') return tokens
    throw new AuthError('invalid_response', `${operation}: POST ${url} answered ${answer.status} with ${tokens}`, {
      status: answer.status,
    })
  }
  const code = serverErrorCode(answer.body)
  const what = `${operation}: POST ${url} answered ${answer.status}${code ? ` (${code})` : ''}`
  const details = { status: answer.status, retryAfterMs: answer.retryAfterMs }
  if (operation === 'login' && (answer.status === 400 || answer.status === 401)) {
    throw new AuthError('invalid_credentials', what, details)
  }
  if (operation === 'refresh' && (code === 'invalid_grant' || isFinalRefreshRefusal(answer.status))) {
    throw new AuthError('session_expired', what, details)
  }
  throw new AuthError('server', what, details)
}

/** POSTs a login or refresh grant and returns the tokens, or throws the `AuthError` the answer deserves. */
export async function requestTokens(
  config: TransportConfig,
  operation: 'login' | 'refresh',
  url: string,
  body: string | URLSearchParams,
  headers: Record<string, string>,
): Promise<TokenResponse> {
  return judgeTokenAnswer(await postToAuthServer(config, operation, url, body, headers), operation, url)
}

/** A revocation counts as confirmed on any 2xx (RFC 7009 §2.2). Failures are swallowed: best effort. */
export async function confirmed(answer: Promise<ServerAnswer>): Promise<boolean> {
  try {
    return (await answer).ok
  } catch {
    return false
  }
}
