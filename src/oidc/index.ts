import { AuthError } from '../errors.js'
import type { AuthServer, Protocol } from '../protocols/Protocol.js'
import { judgeTokenAnswer, revokeAt } from '../protocols/tokenEndpoint.js'
import type { TokenResponse } from '../session.js'
import { DEV } from '../dev.js'
import { urlForLog } from '../log.js'
import { discover, type ProviderEndpoints } from './discovery.js'
import { checkIdToken } from './idToken.js'
import { pkcePair, randomToken } from './pkce.js'
import { saveAttempt, saveLogoutState, takeCallback, type Callback } from './callback.js'

export type { ProviderEndpoints }

/** What `oidc()` takes. */
export interface OidcOptions {
  /**
   * The provider's issuer identifier, exactly as its discovery document states it (Keycloak:
   * `https://host/realms/name`; Auth0: `https://tenant.auth0.com/`, with the slash).
   */
  issuer: string
  /** The public client's `client_id`. */
  clientId: string
  /**
   * The redirect URI registered at the provider, exactly: the page of this app the provider sends
   * the user back to. The client created on that page completes the login (see `ready`).
   */
  redirectUri: string
  /** The scopes asked for. Add `offline_access` where the provider needs it for a refresh token (Auth0, oidc-provider). @default 'openid' */
  scope?: string
  /** More authorization request parameters: `prompt`, `login_hint`, `audience`, `ui_locales`, `acr_values`... */
  authorizationParams?: Record<string, string>
  /**
   * Where the provider sends the user after `logout()` ends its session too (RP-initiated logout,
   * with `id_token_hint`); registered at the provider. Without it, `logout()` ends the session here
   * and revokes the tokens, and the provider's own login session stays.
   */
  postLogoutRedirectUri?: string
  /**
   * The provider's endpoints, for a provider without discovery: with `authorization` and `token`
   * given, no discovery document is fetched. Absolute URLs (a path resolves against `baseUrl`).
   */
  endpoints?: ProviderEndpoints
  /** How the page goes to the provider. @default (url) => location.assign(url) */
  navigate?: (url: string) => void
}

/**
 * Authorization parameters refused: those the protocol sets itself (an app that set them would
 * break the login's checks), and secrets, which must never travel in a URL (an app that passes
 * `{ username, password }` to `login()` out of habit would put the password in the provider's logs).
 */
const OWN_PARAMS = ['client_id', 'redirect_uri', 'response_type', 'response_mode', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'request', 'request_uri', 'password', 'client_secret', 'code', 'code_verifier', 'access_token', 'refresh_token']

const form = { 'content-type': 'application/x-www-form-urlencoded' }

/**
 * The OpenID Connect protocol: login by redirect with the authorization code and PKCE (S256),
 * `state`, `nonce` and the RFC 9207 `iss` check; discovery; the ID token's claims checked; the
 * refresh-token grant with rotation; RFC 7009 revocation; RP-initiated logout. It works with any
 * OAuth 2.0 authorization server too (a scope without `openid` skips the ID token).
 *
 * `auth.login({ returnTo?, ...authorizationParams })` saves the attempt in sessionStorage and
 * leaves the page for the provider (its promise stays pending while the page unloads). The client
 * created on the redirect page completes the login before `ready` settles.
 *
 * @example
 * ```ts
 * import { createAuthClient } from 'tokenkeeper'
 * import { oidc } from 'tokenkeeper/oidc'
 *
 * const auth = createAuthClient({
 *   baseUrl: 'https://api.example.com',
 *   protocol: oidc({ issuer: 'https://sso.example.com/realms/app', clientId: 'spa', redirectUri: `${location.origin}/callback` }),
 * })
 * auth.on('error', (error) => error.code === 'login_refused' && showMessage('Login cancelled'))
 * await auth.ready // on /callback: the login completed, and the URL is back where the user was
 * if (!auth.getSession()) await auth.login({ returnTo: location.pathname })
 * ```
 * @throws {TypeError} naming the first bad option.
 */
export function oidc(options: OidcOptions): Protocol {
  const bad = (name: string, expected: string): TypeError =>
    new TypeError(DEV ? `oidc: option "${name}" must be ${expected}` : `oidc: option "${name}": see tokenkeeper's README`)
  const isText = (value: unknown): value is string => typeof value === 'string' && value !== ''
  const isStrings = (value: unknown): value is Record<string, string> =>
    typeof value === 'object' && value !== null && Object.values(value).every((entry) => typeof entry === 'string')
  if (typeof options !== 'object' || options === null) throw bad('options', 'an object')
  const { issuer, clientId, redirectUri, scope = 'openid', authorizationParams = {}, postLogoutRedirectUri, endpoints = {}, navigate = (url: string) => location.assign(url) } = options
  for (const [name, value] of Object.entries({ issuer, clientId, redirectUri, scope })) if (!isText(value)) throw bad(name, 'a non-empty string')
  if (postLogoutRedirectUri !== undefined && !isText(postLogoutRedirectUri)) throw bad('postLogoutRedirectUri', 'a non-empty string')
  if (!isStrings(authorizationParams)) throw bad('authorizationParams', 'an object of strings')
  if (!isStrings(endpoints)) throw bad('endpoints', 'an object of URLs')
  if (typeof navigate !== 'function') throw bad('navigate', 'a function')
  for (const name in authorizationParams) if (OWN_PARAMS.includes(name)) throw bad(`authorizationParams.${name}`, 'a parameter the protocol does not set itself')
  for (const key in options) {
    if (!['issuer', 'clientId', 'redirectUri', 'scope', 'authorizationParams', 'postLogoutRedirectUri', 'endpoints', 'navigate'].includes(key)) throw bad(key, 'a known option')
  }

  return {
    connect(server: AuthServer) {
      // Checked as every endpoint is (https, or http on localhost), so a bad one throws at createAuthClient.
      server.url('issuer', issuer)
      const callbackUrl = new URL(server.url('redirectUri', redirectUri))
      if (postLogoutRedirectUri) server.url('postLogoutRedirectUri', postLogoutRedirectUri)
      const provider = discover(server, issuer, endpoints)
      const log = DEV ? server.log : undefined
      const body = (fields: Record<string, string>): URLSearchParams => new URLSearchParams({ ...fields, client_id: clientId })

      /** Tokens from the token endpoint, with the ID token checked against `expected`. */
      const requestTokens = async (operation: 'login' | 'refresh', fields: Record<string, string>, expected: Parameters<typeof checkIdToken>[2]): Promise<TokenResponse> => {
        const { token } = await provider()
        const answer = await server.post(operation, token, body(fields), form)
        const issued = (answer.body ?? {}) as { access_token?: unknown; refresh_token?: unknown; id_token?: unknown; token_type?: unknown }
        const { id_token: idToken, token_type: type } = issued
        try {
          const tokens = judgeTokenAnswer(answer, operation, token)
          // A token bound to a key (DPoP) sent as a bearer token would be refused, or worse, accepted.
          const expectedType = server.tokenType ?? 'Bearer'
          if (typeof type === 'string' && type.toLowerCase() !== expectedType.toLowerCase()) {
            throw new AuthError('invalid_response', DEV ? `${operation}: the token endpoint answered token_type ${JSON.stringify(type.slice(0, 20))}, not ${expectedType}` : '')
          }
          // An ID token is due at a login that sent a nonce (scope openid); a refresh may keep the old one.
          if (idToken === undefined && expected.nonce === undefined) return { ...tokens, idToken: expected.previous }
          return { ...tokens, idToken: checkIdToken(operation, idToken, expected) }
        } catch (error) {
          // A 2xx answer the client refuses: the server issued these tokens, and nobody will hold
          // them, so they must not stay valid.
          if (DEV && answer.ok) log?.(`oidc: the ${operation} answer is refused; revoking its tokens`, { code: (error as AuthError).code })
          const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined)
          if (answer.ok) void revokeTokens(text(issued.access_token), text(issued.refresh_token))
          throw error
        }
      }

      async function complete(callback: Callback & { problem?: undefined }): Promise<TokenResponse> {
        const { attempt, params } = callback
        if (DEV) log?.('oidc: completing the login the provider sent back', { issuer })
        const metadata = await provider()
        const iss = params.get('iss')
        // RFC 9207: a provider that says it sends `iss` must send it, and it must be this one.
        if (iss !== null ? iss !== issuer : metadata.issParameter) {
          throw new AuthError('invalid_callback', DEV ? `callback: the answer came from ${iss === null ? 'an unnamed issuer' : 'another issuer'}, not ${issuer}` : '')
        }
        const error = params.get('error')
        if (error !== null) {
          const code = /^[a-z][a-z\d_]{0,39}$/.test(error) ? error : 'an unreadable error'
          throw new AuthError('login_refused', DEV ? `callback: the provider answered ${code}` : '')
        }
        const code = params.get('code')
        if (!code) throw new AuthError('invalid_callback', DEV ? 'callback: no code' : '')
        try {
          return await requestTokens(
            'login',
            { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: attempt.verifier },
            { issuer, clientId, nonce: attempt.nonce },
          )
        } catch (failure) {
          // A refused code (invalid_grant: used, expired, or the verifier did not match) is the provider refusing this login.
          if ((failure as AuthError).code === 'invalid_credentials') throw new AuthError('login_refused', DEV ? (failure as AuthError).message : '', { status: (failure as AuthError).status })
          throw failure
        }
      }

      const revoke = async (token: string | undefined, hint: string): Promise<boolean> => {
        const { revocation } = await provider()
        return !!revocation && token !== undefined && revokeAt(server, revocation, body({ token, token_type_hint: hint }), form)
      }
      /**
       * At logout, the refresh token first (it could mint new access tokens), then the access token.
       * A session that another replaced gives up its access token only: providers tie a browser's
       * logins to one grant (oidc-provider reuses it; Keycloak, its SSO session), and revoking a
       * refresh token revokes the whole grant, the new session's tokens with it.
       */
      async function revokeTokens(accessToken: string | undefined, refreshToken: string | undefined, replaced?: boolean): Promise<boolean> {
        try {
          const refreshRevoked = refreshToken === undefined || replaced || (await revoke(refreshToken, 'refresh_token'))
          return (await revoke(accessToken, 'access_token')) && refreshRevoked
        } catch {
          return false // no discovery, no revocation
        }
      }

      /** RP-initiated logout: the provider's own session ends too, and the page comes back to postLogoutRedirectUri. */
      const endSession = (idToken: string | undefined): void => {
        if (!postLogoutRedirectUri) return
        void provider().then(({ endSession }) => {
          if (!endSession) return
          const url = new URL(endSession)
          const state = randomToken()
          saveLogoutState(state)
          const params = { client_id: clientId, post_logout_redirect_uri: postLogoutRedirectUri, state, ...(idToken && { id_token_hint: idToken }) }
          for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
          if (DEV) log?.("oidc: leaving for the provider's logout (RP-initiated)", { url: urlForLog(url) })
          navigate(url.href)
        }, () => {})
      }
      /** The tokens this page's redirect callback brought. */
      let resumed: TokenResponse | undefined

      return {
        id: `${issuer} ${clientId}`,
        refreshesWithoutToken: false,
        async login(credentials) {
          const { returnTo = location.href, ...asked } = credentials
          if (!isStrings(asked) || typeof returnTo !== 'string' || Object.keys(asked).some((name) => OWN_PARAMS.includes(name))) {
            throw new AuthError('invalid_argument', DEV ? 'login: oidc takes { returnTo, ...authorization parameters }, all strings, none the protocol sets itself' : '')
          }
          let back: URL | undefined
          try {
            back = new URL(returnTo, location.href)
          } catch {
            // reported below
          }
          if (back?.origin !== location.origin) throw new AuthError('invalid_argument', DEV ? 'login: returnTo must be a URL on this origin' : '')
          const { authorization } = await provider()
          const [verifier, challenge] = await pkcePair()
          const state = randomToken()
          // The scope of this login: a nonce whenever it asks for an ID token.
          const nonce = (asked.scope ?? scope).split(' ').includes('openid') ? randomToken() : undefined
          saveAttempt(state, { verifier, nonce, returnTo: back.href, at: Date.now() })
          const url = new URL(authorization)
          const params = { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, ...authorizationParams, ...asked, state, code_challenge: challenge, code_challenge_method: 'S256', ...(nonce && { nonce }) }
          for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value)
          // Not the URL's query: it holds the state, the nonce and the code challenge.
          if (DEV) log?.('oidc: leaving for the provider to log in', { url: urlForLog(url), scope: params.scope })
          navigate(url.href)
          // The page is leaving: no session comes from this call, and none must be made up.
          return new Promise<never>(() => {})
        },
        refresh(refreshToken, idToken) {
          if (refreshToken === undefined) return Promise.reject(new AuthError('session_expired', DEV ? 'refresh: no refresh token' : ''))
          return requestTokens('refresh', { grant_type: 'refresh_token', refresh_token: refreshToken }, { issuer, clientId, previous: idToken })
        },
        async revoke(accessToken, refreshToken, replaced) {
          const revoked = await revokeTokens(accessToken, refreshToken, replaced)
          // The callback's own tokens, not replaced but refused: a logout overtook the login by
          // redirect. It ends the provider's session too, as it would have once the login was done.
          if (replaced === false && resumed && accessToken === resumed.accessToken) endSession(resumed.idToken)
          return revoked
        },
        resume() {
          const callback = takeCallback(callbackUrl)
          if (DEV && callback?.problem) log?.('oidc: a redirect back from the provider that this tab cannot complete', { code: callback.problem.code })
          return callback && (callback.problem ? Promise.reject(callback.problem) : complete(callback).then((tokens) => (resumed = tokens)))
        },
        afterLogout: endSession,
      }
    },
  }
}

