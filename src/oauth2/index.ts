import { AuthError } from '../errors.js'
import type { Protocol } from '../protocols/Protocol.js'
import { requestTokens, revokeAt } from '../protocols/tokenEndpoint.js'
import { DEV } from '../dev.js'

/** What `oauth2()` takes. */
export interface OAuth2Options {
  /** The public client's `client_id`, sent with every grant and revocation. */
  clientId?: string
  /** The `scope` asked for at login, unless `login()` is given one. */
  scope?: string
  /** Paths (resolved against `baseUrl`) or absolute URLs. */
  endpoints?: {
    /** The RFC 6749 token endpoint. @default '/oauth/token' */
    token?: string
    /** The RFC 7009 revocation endpoint. @default '/oauth/revoke' */
    revocation?: string
  }
}

/**
 * The `oauth2` protocol (RFC 6749): the password grant at login and the refresh-token grant,
 * form-encoded at the token endpoint, and RFC 7009 revocation of the refresh token, then the access
 * token. Public clients identify themselves with `client_id` in the body, as browsers cannot keep a
 * client secret. The password grant is forbidden for new deployments by the OAuth 2.0 Security BCP
 * (RFC 9700 §2.4); it is here for servers that still use it.
 *
 * @example
 * ```ts
 * import { oauth2 } from 'tokenkeeper/oauth2'
 * const auth = createAuthClient({ baseUrl: 'https://auth.example.com', protocol: oauth2({ clientId: 'spa', scope: 'api' }) })
 * ```
 */
export function oauth2(options: OAuth2Options = {}): Protocol {
  const bad = (name: string, expected: string): TypeError =>
    new TypeError(DEV ? `oauth2: option "${name}" must be ${expected}` : `oauth2: option "${name}": see tokenkeeper's README`)
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null
  if (!isObject(options)) throw bad('options', 'an object')
  const { clientId, scope, endpoints = {} } = options as OAuth2Options
  for (const [name, value] of [['clientId', clientId], ['scope', scope]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw bad(name, 'a non-empty string')
  }
  if (!isObject(endpoints)) throw bad('endpoints', 'an object')
  for (const key in endpoints) if (key !== 'token' && key !== 'revocation') throw bad(`endpoints.${key}`, 'token or revocation')
  for (const key in options) if (key !== 'clientId' && key !== 'scope' && key !== 'endpoints') throw bad(key, 'clientId, scope or endpoints')
  return {
    connect(server) {
      const token = server.url('endpoints.token', endpoints.token ?? '/oauth/token')
      const revocation = server.url('endpoints.revocation', endpoints.revocation ?? '/oauth/revoke')
      const form = { 'content-type': 'application/x-www-form-urlencoded' }
      const body = (fields: Record<string, string | undefined>): URLSearchParams => {
        const params = new URLSearchParams()
        for (const [name, value] of Object.entries({ ...fields, client_id: clientId })) {
          if (value !== undefined) params.set(name, value)
        }
        return params
      }
      const revoke = (token: string | undefined, hint: 'refresh_token' | 'access_token'): Promise<boolean> =>
        revokeAt(server, revocation, body({ token, token_type_hint: hint }), form)

      return {
        id: token,
        refreshesWithoutToken: false,
        async login(credentials) {
          const { username, password, scope: asked = scope } = credentials
          if (typeof username !== 'string' || typeof password !== 'string') {
            throw new AuthError('invalid_argument', DEV ? 'login: oauth2 needs a username and a password' : '')
          }
          // Refused, not ignored: a scope given as an array would quietly log in with the default scope.
          if (typeof asked !== 'string' && asked !== undefined) throw new AuthError('invalid_argument', DEV ? 'login: oauth2 scope must be a string' : '')
          return requestTokens(server, 'login', token, body({ grant_type: 'password', username, password, scope: asked }), form)
        },
        async refresh(refreshToken) {
          if (refreshToken === undefined) throw new AuthError('session_expired', DEV ? 'refresh: no refresh token' : '')
          return requestTokens(server, 'refresh', token, body({ grant_type: 'refresh_token', refresh_token: refreshToken }), form)
        },
        async revoke(accessToken, refreshToken) {
          // The refresh token first: it is the one that could mint new access tokens.
          const refreshRevoked = refreshToken === undefined ? true : await revoke(refreshToken, 'refresh_token')
          const accessRevoked = await revoke(accessToken, 'access_token')
          return refreshRevoked && accessRevoked
        },
      }
    },
  }
}
