import { AuthError } from '../errors.js'
import { DEV } from '../dev.js'

/** Base64url without padding (RFC 7636 appendix A). */
export const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')

/** 256 random bits, base64url: a `state`, a `nonce` or a PKCE `code_verifier` (43 characters). */
export const randomToken = (): string => base64url(crypto.getRandomValues(new Uint8Array(32)))

/**
 * A fresh PKCE pair (RFC 7636): the `code_verifier` kept for the token request, and its S256
 * `code_challenge` sent with the authorization request. S256 only: `plain` would show the verifier.
 * @throws {AuthError} `insecure_transport` where WebCrypto is missing (a page not in a secure context).
 */
export async function pkcePair(): Promise<[verifier: string, challenge: string]> {
  if (!globalThis.crypto?.subtle) {
    throw new AuthError('insecure_transport', DEV ? 'login: PKCE needs WebCrypto, which browsers give only to https pages (and localhost)' : '')
  }
  const verifier = randomToken()
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return [verifier, base64url(new Uint8Array(digest))]
}
