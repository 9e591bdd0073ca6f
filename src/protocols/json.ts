import { AuthError } from '../errors.js'
import { postToAuthServer, type TransportConfig } from '../transport.js'
import { confirmed, requestTokens, type Credentials, type Protocol } from './Protocol.js'

/** The credentials as a JSON body; what JSON cannot carry (a BigInt, a cycle) is the caller's mistake. */
function toJson(credentials: Credentials): string {
  let body: string | undefined
  try {
    body = JSON.stringify(credentials)
  } catch {
    // reported below, without the cause: its message may quote the credentials
  }
  if (typeof body !== 'string') throw new AuthError('invalid_argument', 'login: the credentials cannot be sent as JSON')
  return body
}

export interface JsonEndpoints {
  login: string
  refresh: string
  logout: string
}

/**
 * The `json` protocol, for an app's own JWT API: credentials and refresh token as JSON bodies.
 * With no refresh token (the server keeps it in an HttpOnly cookie) refresh and logout are empty
 * POSTs, and the cookie travels with them.
 */
export function jsonProtocol(config: TransportConfig, endpoints: JsonEndpoints): Protocol {
  const json = { 'content-type': 'application/json' }
  const withRefreshToken = (refreshToken: string | undefined): string =>
    JSON.stringify(refreshToken === undefined ? {} : { refreshToken })

  return {
    login: async (credentials) => requestTokens(config, 'login', endpoints.login, toJson(credentials), json),
    refresh: (refreshToken) => requestTokens(config, 'refresh', endpoints.refresh, withRefreshToken(refreshToken), json),
    revoke(accessToken, refreshToken) {
      return confirmed(
        postToAuthServer(config, 'logout', endpoints.logout, withRefreshToken(refreshToken), {
          ...json,
          ...(accessToken && { authorization: `Bearer ${accessToken}` }),
        }),
      )
    },
  }
}
