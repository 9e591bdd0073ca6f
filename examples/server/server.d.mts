export interface DemoServerOptions {
  /** 0 picks a free port. @default 0 */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  /** Access tokens live this long (whole seconds, 2 to 86400). @default 30 */
  accessTokenLifetimeSec?: number
  /** A refresh token not used for this long ends (whole seconds). @default 8 hours */
  refreshTokenLifetimeSec?: number
  /** A session ends this long after its login, whatever its refreshes (whole seconds). @default 7 days */
  sessionLifetimeSec?: number
  /**
   * The pages' idle timeout, told them by `GET /api/config` (whole seconds, 10 to 86400): a session
   * with no user activity in any tab for this long ends (`idleTimeoutMs`). @default 120
   */
  idleTimeoutSec?: number
  /** Where the refresh token travels. @default 'cookie' */
  refreshMode?: 'cookie' | 'body'
  /** A PKCS#8 PEM EC P-256 key, for ES256; generated at start when absent, never from the repo. */
  signingKeyPem?: string
  usersFile?: string
  /** Failed logins for one username within the window before it gets 429. @default 5 */
  failedLoginsPerUser?: number
  /** Failed logins from one client address within the window before it gets 429. @default 20 */
  failedLoginsPerAddress?: number
  /** The window failed logins are counted in (whole seconds). @default 900 */
  failedLoginWindowSec?: number
  /** A request whose headers or body do not arrive within this long gets 408 (whole seconds). @default 10 */
  requestTimeoutSec?: number
  /** A user's live sessions; a login beyond it ends the user's oldest. @default 10 */
  sessionsPerUser?: number
  /**
   * The OpenID Provider the `/oidc/` page logs in with (examples/oidc-provider), or a function
   * giving it when asked (the provider starts after this server, as it needs this server's origin).
   */
  oidcIssuer?: string | (() => string | undefined)
  /**
   * DPoP (RFC 9449). Every login, refresh and API request carries one `DPoP` header: a proof, a
   * `dpop+jwt` JWS (ES256, PS256 or EdDSA) signed by the public key in its `jwk` header, with a new
   * `jti`, `htm` and `htu` naming the request (query ignored; the origin it came in on), and `iat`
   * within 60 s. Access tokens carry `cnf.jkt` (the key's RFC 7638 thumbprint), come back with
   * `tokenType: 'DPoP'` and are sent as `Authorization: DPoP <token>` with a proof whose `ath` is their
   * hash; a session's refresh token works only with proofs of its login's key. A refused proof is
   * 400 `invalid_dpop_proof` at /auth/login and /auth/refresh, and 401 with
   * `WWW-Authenticate: DPoP error="invalid_dpop_proof"` (or `"invalid_token"` for a token not bound to
   * the proof's key, or sent as Bearer) at the API. Logout never refuses: a bad proof only means its
   * access token is ignored. @default false
   */
  dpop?: boolean
  /**
   * With `dpop`: proofs must also carry a `nonce` this server handed out (each is good for 5 to 10
   * minutes: the current one and the one before). Without one, or with an older one, 400 `use_dpop_nonce` (token endpoints) or 401 `WWW-Authenticate: DPoP
   * error="use_dpop_nonce"` (API); every answer to a request that needs a proof has a `DPoP-Nonce`
   * header with the nonce to use. Refused without `dpop`. @default false
   */
  dpopNonce?: boolean
}
export interface DemoServer {
  url: string
  stats: {
    login: number
    refresh: number
    logout: number
    reuseDetected: number
    api: number
    unauthorized: number
    throttled: number
    /** DPoP proofs refused, anywhere (a nonce asked for included). */
    dpopRefused: number
  }
  /** How many entries the server holds in memory, after dropping the spent ones. */
  held(): {
    families: number
    throttled: number
    /** jtis of DPoP proofs still in their iat window, kept to refuse a replay. */
    dpopProofs: number
  }
  close(): Promise<void>
}
export function startDemoServer(options?: DemoServerOptions): Promise<DemoServer>
