import type { Logger } from '../log.js'
import type { ServerAnswer } from '../transport.js'
import type { TokenResponse } from '../session.js'

/**
 * What the app passes to `login()`. The json protocol posts it as it is, as JSON; the oauth2
 * protocol needs string `username` and `password` (and takes an optional `scope` string). Anything
 * else rejects with `invalid_argument` before a request is made.
 *
 * @example
 * ```ts
 * await auth.login({ email: 'ada@example.com', password, otp: '123456' }) // json: any fields your API takes
 * ```
 */
export type Credentials = Record<string, unknown>

/**
 * How a protocol reaches its auth server: URLs checked as the client checks its own, and POSTs
 * made with the client's `fetch`, timeout and `credentials`.
  *
 * @example
 * ```ts
 * const token = server.url('endpoints.token', '/oauth/token') // throws at createAuthClient if bad
 * const answer = await server.post('login', token, new URLSearchParams({ grant_type: 'password', username, password }), form)
 * ```
 */
export interface AuthServer {
  /**
   * Resolves an endpoint: a path joins `baseUrl` (as ky's prefix does), an absolute URL stays.
   * @throws {TypeError} naming `option` when it is not a URL.
   * @throws {AuthError} `insecure_transport` for plain http beyond localhost (unless allowed).
   */
  url(option: string, pathOrUrl: unknown): string
  /**
   * POSTs and parses a JSON answer. Any HTTP answer resolves, for the protocol to judge (see
   * `judgeTokenAnswer`); rejects with `network` or `timeout`. `operation` names the call in errors.
   */
  post(operation: Operation, url: string, body: string | URLSearchParams, headers: Record<string, string>): Promise<ServerAnswer>
  /** GETs a JSON document (such as OpenID discovery), as `post` does, with no body. */
  get(operation: Operation, url: string): Promise<ServerAnswer>
  /**
   * The `token_type` the token endpoint must answer: `'DPoP'` under `dpop()` from
   * `tokenkeeper/dpop`, which also checks it. A protocol that checks the type compares with this.
   * @default 'Bearer'
   */
  tokenType?: string
  /**
   * The client's debug log, set in the development build when the app turned it on (`debug` or
   * `logger`), for a protocol to report its steps. Never give it a token, a credential, a code, a
   * state, a nonce or a verifier; a URL goes as origin and path.
   */
  log?: Logger
}

/**
 * What a request to the auth server is for, as its error messages name it.
 *
 * @example
 * ```ts
 * const answer = await server.get('discovery', 'https://sso.example.com/.well-known/openid-configuration')
 * ```
 */
export type Operation = 'login' | 'refresh' | 'logout' | 'discovery'

/** A protocol bound to one client's server: the three calls the client makes.  *
 * @example
 * ```ts
 * connect: (server) => ({ id: refreshUrl, refreshesWithoutToken: false, login, refresh, revoke })
 * ```
 */
export interface ProtocolCalls {
  /** The URL that names the session's server, such as the refresh endpoint: tabs share a session only when it matches. */
  id: string
  /** Whether `refresh` works with no refresh token (the server keeps it in an HttpOnly cookie). */
  refreshesWithoutToken: boolean
  /** Rejects with `invalid_credentials` when the server refuses the login, `invalid_argument` for credentials it cannot send. */
  login(credentials: Credentials): Promise<TokenResponse>
  /**
   * Rejects with `session_expired` when the refresh is refused for good, else with a transient
   * `AuthError`. `idToken` is the session's ID token, if it has one: give it back when the server
   * sends no new one (OpenID Connect).
   */
  refresh(refreshToken: string | undefined, idToken?: string): Promise<TokenResponse>
  /**
   * Resolves to whether the server confirmed the revocation; never rejects. `replaced` is true for
   * tokens of a session that another one replaced (a second login, an answer that came late), not
   * ended by `logout()`: a server that ties both sessions together (an OpenID provider's grant) may
   * need to revoke less then, so as not to end the session that replaced them.
   */
  revoke(accessToken: string | undefined, refreshToken: string | undefined, replaced?: boolean): Promise<boolean>
  /**
   * Completes a login that left the page, such as a redirect back from an OpenID provider. Called
   * once, synchronously, as the client is created: it must take what it needs from the URL and
   * storage before its first `await` (so a second client, or a second run, finds nothing), and
   * return `undefined` when there is nothing to complete. The tokens become a login, as
   * `login()`'s do; a rejection becomes an `error` event.
   */
  resume?(): Promise<TokenResponse> | undefined
  /**
   * Called after `logout()` in this tab ended the session and its revocation settled (not for
   * another tab's logout, nor for a session that another replaced): for example RP-initiated
   * logout at an OpenID provider, which leaves the page. Must not throw.
   */
  afterLogout?(idToken: string | undefined): void
}

/**
 * A wire protocol, as a value: the json protocol is built in and the default; `oauth2()` comes from
 * `tokenkeeper/oauth2`. Write one for a server of your own (see the README).
 *
 * @example
 * ```ts
 * createAuthClient({ baseUrl, protocol: oauth2({ clientId: 'spa' }) })
 * ```
 */
export interface Protocol {
  /**
   * Called once by `createAuthClient`: resolves the endpoints (so a bad one throws there) and
   * returns the calls.
   */
  connect(server: AuthServer): ProtocolCalls
}
