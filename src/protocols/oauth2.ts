import { AuthError } from '../errors.js'
import { postToAuthServer, type TransportConfig } from '../transport.js'
import { confirmed, requestTokens, type Protocol } from './Protocol.js'

export interface OAuth2Endpoints {
  token: string
  revocation: string
}

export interface OAuth2Client {
  clientId?: string | undefined
  scope?: string | undefined
}

/**
 * The `oauth2` protocol (RFC 6749): form-encoded grants at the token endpoint, and RFC 7009
 * revocation of the refresh token, then the access token. Public clients identify themselves with
 * `client_id` in the body, as browsers cannot keep a client secret.
 */
export function oauth2Protocol(config: TransportConfig, endpoints: OAuth2Endpoints, client: OAuth2Client): Protocol {
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const body = (fields: Record<string, string | undefined>): URLSearchParams => {
    const params = new URLSearchParams()
    for (const [name, value] of Object.entries({ ...fields, client_id: client.clientId })) {
      if (value !== undefined) params.set(name, value)
    }
    return params
  }
  const revoke = (token: string | undefined, hint: 'refresh_token' | 'access_token'): Promise<boolean> =>
    confirmed(postToAuthServer(config, 'logout', endpoints.revocation, body({ token, token_type_hint: hint }), form))

  return {
    async login(credentials) {
      const { username, password, scope = client.scope } = credentials
      if (typeof username !== 'string' || typeof password !== 'string') {
        throw new AuthError('invalid_argument', 'login: oauth2 needs a username and a password')
      }
      // Refused, not ignored: a scope given as an array would quietly log in with the default scope.
      if (typeof scope !== 'string' && scope !== undefined) throw new AuthError('invalid_argument', 'login: oauth2 scope must be a string')
      const grant = body({ grant_type: 'password', username, password, scope })
      return requestTokens(config, 'login', endpoints.token, grant, form)
    },
    async refresh(refreshToken) {
      if (refreshToken === undefined) {
        throw new AuthError('session_expired', 'refresh: no refresh token')
      }
      const grant = body({ grant_type: 'refresh_token', refresh_token: refreshToken })
      return requestTokens(config, 'refresh', endpoints.token, grant, form)
    },
    async revoke(accessToken, refreshToken) {
      // The refresh token first: it is the one that could mint new access tokens.
      const refreshRevoked = refreshToken === undefined ? true : await revoke(refreshToken, 'refresh_token')
      const accessRevoked = await revoke(accessToken, 'access_token')
      return refreshRevoked && accessRevoked
    },
  }
}
