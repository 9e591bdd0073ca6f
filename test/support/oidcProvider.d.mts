import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** An account's claims; `sub` is the account's id. */
export interface OidcAccountClaims {
  name?: string
  given_name?: string
  family_name?: string
  email?: string
  email_verified?: boolean
  [claim: string]: unknown
}

export interface OidcProviderOptions {
  /** The one client, public (no secret), PKCE S256 required. @default 'spa' */
  clientId?: string
  /** @default ['http://localhost:5173/callback'] */
  redirectUris?: string[]
  /** @default the origins of `redirectUris` with a trailing slash, e.g. ['http://localhost:5173/'] */
  postLogoutRedirectUris?: string[]
  /** `expires_in` of every access token. @default 60 */
  accessTokenTtlSec?: number
  /** @default 3600 */
  idTokenTtlSec?: number
  /** A fresh refresh token's lifetime; a rotated one keeps its predecessor's end (oidc-provider's rule for SPAs). @default 14 days */
  refreshTokenTtlSec?: number
  /** oidc-provider's `rotateRefreshToken`. @default true */
  rotateRefreshToken?: boolean | ((ctx: unknown) => boolean | Promise<boolean>)
  /** false puts the profile and email claims in the ID token too; true leaves them to userinfo. @default false */
  conformIdTokenClaims?: boolean
  /** Browser origins the token and revocation endpoints answer (a refused one gets 400 invalid_request). @default every origin */
  corsOrigins?: string[] | ((origin: string, clientId: string) => boolean)
  /** Mounts the provider below a path, e.g. '/realms/test' makes the issuer http://127.0.0.1:PORT/realms/test. */
  issuerPath?: string
  /** Who logs in at the next login. @default 'ada' */
  user?: string
  /** Added to, or replacing, the built-in accounts `ada` (Ada Lovelace) and `grace` (Grace Hopper). */
  accounts?: Record<string, OidcAccountClaims>
  /** Merged per feature over the fixture's `features` (e.g. `{ revocation: { enabled: false } }`). */
  features?: Record<string, unknown>
  /** More metadata of the one client, e.g. `{ dpop_bound_access_tokens: true }`. */
  client?: Record<string, unknown>
  /** Any other oidc-provider configuration, shallow-merged over the fixture's last. */
  config?: Record<string, unknown>
}

export interface OidcGrantError {
  /** The request's grant_type. */
  grantType: string | undefined
  /** The `error` the client got, e.g. 'invalid_grant'. */
  error: string
  /** The error class, e.g. 'InvalidGrant'. */
  name: string
  /** What the provider logs but never sends, e.g. 'refresh token already used'. */
  detail: string | undefined
}

/** What the provider saw since the start or the last `resetEvents()`. */
export interface OidcProviderEvents {
  /** Successful token requests by grant_type. */
  grants: { authorization_code: number; refresh_token: number; [grantType: string]: number }
  /** Failed token requests, in order. */
  grantErrors: OidcGrantError[]
  /** Token requests refused because the refresh token had been rotated already (the grant is revoked). */
  refreshTokenReuse: number
  /** Token requests refused because the code had been redeemed already (the grant is revoked). */
  codeReuse: number
  /** One grant id per `grant.revoked` event. */
  grantRevoked: string[]
  /** `end_session.success` events. */
  endSession: number
  /** Revocation requests answered 200. */
  revocations: number
  /** `authorization.success` events: codes handed out. */
  authorizations: number
  /** `interaction.started` events: authorizations that went through the login (or consent) step. */
  interactions: number
  /** 'grant.error InvalidGrant: grant request is invalid (refresh token already used)', also for authorization.error, revocation.error, end_session.error, end_session_confirm.error, userinfo.error and server_error. */
  errors: string[]
  /** Stacks of `server_error` events: a 500 from the provider. */
  serverErrors: string[]
  /** Every event above, in order. */
  log: Array<{ event: string; detail?: string }>
}

/** A token as oidc-provider stores it. */
export interface OidcStoredToken {
  jti: string
  kind: string
  clientId?: string
  accountId?: string
  grantId?: string
  scope?: string
  exp?: number
  /** Set once a code is redeemed or a refresh token rotated. */
  consumed?: unknown
  [property: string]: unknown
}

export interface OidcTokenModel {
  find(value: string, options?: { ignoreExpiration?: boolean }): Promise<OidcStoredToken | undefined>
}

/** The part of oidc-provider's Provider the tests use; it ships no types (@types/oidc-provider@8.8.1 has them all). */
export interface OidcProviderInstance extends EventEmitter {
  readonly issuer: string
  readonly AccessToken: OidcTokenModel
  readonly RefreshToken: OidcTokenModel
  readonly AuthorizationCode: OidcTokenModel
  readonly Grant: { find(id: string): Promise<{ jti: string; accountId: string; clientId: string } | undefined> }
  callback(): (req: IncomingMessage, res: ServerResponse) => void
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; prompt: { name: string; reasons: string[] }; params: Record<string, unknown> }>
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>
}

export interface OidcProviderFixture {
  /** http://127.0.0.1:PORT, plus `issuerPath`. Discovery is at `${issuer}/.well-known/openid-configuration`. */
  readonly issuer: string
  readonly clientId: string
  readonly provider: OidcProviderInstance
  /** Mutated in place: a reference stays current across `resetEvents()`. */
  readonly events: OidcProviderEvents
  /** Who logs in at the next login. */
  readonly user: string
  /**
   * Does what a browser does with an authorization URL: follows the provider's redirects with this
   * fixture's cookies, logs `user` in without a form, submits self-submitting forms, and resolves
   * with the redirect to the client's redirect_uri (code, state and iss; or error and
   * error_description) without requesting it. A logged-in browser goes straight through, unless
   * the user changed (setUser logs the old one out of the provider first) or a denial is pending.
   * Rejects when the provider answers anything else (e.g. 400 for an unregistered redirect_uri),
   * with the status and an excerpt of the page.
   */
  authorize(authorizationUrl: string): Promise<string>
  /**
   * Follows an end_session URL (id_token_hint, post_logout_redirect_uri, state) and submits the
   * confirm form with logout=yes; resolves with the redirect to post_logout_redirect_uri?state=...,
   * or to `${issuer}/session/end/success` without one, without requesting it.
   */
  endSession(endSessionUrl: string): Promise<string>
  /** The account the next login uses; throws for an unknown one. */
  setUser(accountId: string): void
  /** The next authorization ends with error=access_denied and this description (queued: call twice for two). */
  denyNext(description?: string): void
  /** The names of the cookies this fixture's browser holds. */
  cookieNames(): string[]
  /** A new browser: no session at the provider any more (its tokens stay valid). */
  clearCookies(): void
  resetEvents(): void
  close(): Promise<void>
}

/** Starts a real OpenID Provider (oidc-provider 8.8.1, in memory) on 127.0.0.1 at a free port. */
export function startOidcProvider(options?: OidcProviderOptions): Promise<OidcProviderFixture>
