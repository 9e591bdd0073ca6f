import { AuthError } from '../errors.js'
import type { Credentials, Protocol } from './Protocol.js'
import { requestTokens, revokeAt } from './tokenEndpoint.js'
import { DEV } from '../dev.js'

/** The credentials as a JSON body; what JSON cannot carry (a BigInt, a cycle) is the caller's mistake. */
function toJson(credentials: Credentials): string {
  let body: string | undefined
  try {
    body = JSON.stringify(credentials)
  } catch {
    // reported below, without the cause: its message may quote the credentials
  }
  if (typeof body !== 'string') throw new AuthError('invalid_argument', DEV ? 'login: the credentials cannot be sent as JSON' : '')
  return body
}

/** The json protocol's endpoints: paths (resolved against `baseUrl`) or absolute URLs.  *
 * @example
 * ```ts
 * createAuthClient({ baseUrl, endpoints: { login: '/session', refresh: 'https://auth.example.com/renew' } })
 * ```
 */
export interface JsonEndpoints {
  /** @default '/auth/login' */
  login?: string
  /** @default '/auth/refresh' */
  refresh?: string
  /** @default '/auth/logout' */
  logout?: string
}

/**
 * The `json` protocol, the default, for an app's own JWT API: credentials and refresh token as JSON
 * bodies. With no refresh token (the server keeps it in an HttpOnly cookie) refresh and logout are
 * empty POSTs, and the cookie travels with them.
 */
export function jsonProtocol(endpoints: JsonEndpoints = {}): Protocol {
  return {
    connect(server) {
      // '/auth/login', '/auth/refresh' and '/auth/logout' unless given.
      const endpoint = (name: keyof JsonEndpoints): string => server.url(`endpoints.${name}`, endpoints[name] ?? `/auth/${name}`)
      const login = endpoint('login')
      const refresh = endpoint('refresh')
      const logout = endpoint('logout')
      const json = { 'content-type': 'application/json' }
      // `{}` without one: JSON leaves an undefined property out.
      const withRefreshToken = (refreshToken: string | undefined): string => JSON.stringify({ refreshToken })
      return {
        id: refresh,
        refreshesWithoutToken: true,
        login: async (credentials) => requestTokens(server, 'login', login, toJson(credentials), json),
        refresh: (refreshToken) => requestTokens(server, 'refresh', refresh, withRefreshToken(refreshToken), json),
        revoke: (accessToken, refreshToken) =>
          revokeAt(server, logout, withRefreshToken(refreshToken), { ...json, ...(accessToken && { authorization: `Bearer ${accessToken}` }) }),
      }
    },
  }
}
