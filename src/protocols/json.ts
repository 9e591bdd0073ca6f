import { postToAuthServer, type TransportConfig } from '../transport.js'
import { confirmed, judgeTokenAnswer, type Protocol } from './Protocol.js'

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
    async login(credentials) {
      const answer = await postToAuthServer(config, 'login', endpoints.login, JSON.stringify(credentials), json)
      return judgeTokenAnswer(answer, 'login', endpoints.login)
    },
    async refresh(refreshToken) {
      const answer = await postToAuthServer(config, 'refresh', endpoints.refresh, withRefreshToken(refreshToken), json)
      return judgeTokenAnswer(answer, 'refresh', endpoints.refresh)
    },
    revoke(accessToken, refreshToken) {
      return confirmed(
        postToAuthServer(config, 'logout', endpoints.logout, withRefreshToken(refreshToken), {
          ...json,
          authorization: `Bearer ${accessToken}`,
        }),
      )
    },
  }
}
