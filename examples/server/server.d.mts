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
}
export interface DemoServer {
  url: string
  stats: { login: number; refresh: number; logout: number; reuseDetected: number; api: number; unauthorized: number; throttled: number }
  /** How many entries the server holds in memory, after dropping the spent ones. */
  held(): { families: number; throttled: number }
  close(): Promise<void>
}
export function startDemoServer(options?: DemoServerOptions): Promise<DemoServer>
