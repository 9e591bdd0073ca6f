export { AuthClient, createAuthClient } from './client.js'
export type { LogoutResult } from './client.js'
export type { AuthEvents, ExpiryReason, LogoutReason } from './events.js'
export { AuthError, isAuthError } from './errors.js'
export type { AuthErrorCode, AuthErrorOptions } from './errors.js'
export { defaults } from './options.js'
export type { AuthClientOptions, AuthEndpoints } from './options.js'
export type { Logger } from './log.js'
export type { AuthServer, Credentials, Operation, Protocol, ProtocolCalls } from './protocols/Protocol.js'
export { judgeTokenAnswer, parseTokenResponse, requestTokens, revokeAt } from './protocols/tokenEndpoint.js'
export type { JsonEndpoints } from './protocols/json.js'
export type { ServerAnswer } from './transport.js'
export type { Session, TokenResponse } from './session.js'
export type { Clock, TimerHandle } from './clock.js'
export type { Listener } from './emitter.js'
export type { TokenStorage } from './storage/TokenStorage.js'
export { memoryStorage } from './storage/memoryStorage.js'
export { webStorage } from './storage/webStorage.js'
export { cookieStorage } from './storage/cookieStorage.js'
export type { CookieStorageOptions } from './storage/cookieStorage.js'
/**
 * The registered JWT claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`), the default `Claims`.
 *
 * @example
 * ```ts
 * const auth = createAuthClient<JwtPayload & { roles: string[] }>({ baseUrl })
 * ```
 */
export type JwtPayload = import('jwt-decode').JwtPayload
