import { postToAuthServer, type TransportConfig } from '../transport.js'
import { confirmed, requestTokens, type Protocol } from './Protocol.js'

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
    login: (credentials) => requestTokens(config, 'login', endpoints.login, JSON.stringify(credentials), json),
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
