import { AuthError } from '../errors.js'
import { isLoopbackHost } from '../url.js'
import type { TokenStorage } from './TokenStorage.js'
import { DEV } from '../dev.js'

/**
 * How `cookieStorage` writes its cookie.
 *
 * @example
 * ```ts
 * cookieStorage({ domain: 'example.com', maxAgeSeconds: 7 * 86_400 }) // a __Secure- cookie shared by subdomains
 * ```
 */
export interface CookieStorageOptions {
  /**
   * `Domain` attribute; none by default, so the cookie stays on this exact host and is named
   * `__Host-`, which makes the browser insist on `Secure`, `Path=/` and no `Domain`: a subdomain
   * can then neither plant nor shadow it. With a domain or a path it is named `__Secure-`.
   */
  domain?: string
  /** @default '/' */
  path?: string
  /** @default 'Strict' */
  sameSite?: 'Strict' | 'Lax' | 'None'
  /** `Max-Age` in seconds; by default a session cookie, gone when the browser closes. */
  maxAgeSeconds?: number
}

/**
 * Keeps the session in a cookie written by script: `Secure; SameSite=Strict; Path=/` under a
 * `__Host-` name. It survives reloads and is shared by tabs. A script-written cookie can never be
 * HttpOnly, so it is readable by an XSS like web storage; its advantages are scoping and expiry.
 * For a refresh token out of script's reach, have the server set an HttpOnly cookie instead.
 *
 * It refuses to work on a page that is not https (localhost exempt), and throws a `storage`
 * `AuthError` rather than write a cookie over 4096 bytes that the browser would silently drop.
 *
 * @example
 * ```ts
 * const auth = createAuthClient({ baseUrl, storage: cookieStorage({ maxAgeSeconds: 86_400 }) })
 * ```
 * @throws {TypeError} when an option is invalid.
 */
export function cookieStorage({ domain, path = '/', sameSite = 'Strict', maxAgeSeconds }: CookieStorageOptions = {}): TokenStorage {
  const attribute = (value: unknown): boolean => typeof value === 'string' && !/[;\s,]/.test(value)
  if (
    !['Strict', 'Lax', 'None'].includes(sameSite) ||
    !(maxAgeSeconds === undefined || (Number.isInteger(maxAgeSeconds) && maxAgeSeconds > 0)) ||
    !(domain === undefined || attribute(domain)) ||
    !attribute(path)
  ) {
    throw new TypeError(DEV ? 'cookieStorage: options must be { domain?, path?: strings without ; , or spaces, sameSite?, maxAgeSeconds?: a positive integer }' : "cookieStorage: options: see tokenkeeper's README")
  }
  const prefix = domain === undefined && path === '/' ? '__Host-' : '__Secure-'
  const attributes = `; Path=${path}${domain === undefined ? '' : `; Domain=${domain}`}; SameSite=${sameSite}; Secure`
  const name = (key: string): string => prefix + encodeURIComponent(key)
  const jar = (): Document => {
    const { document, location } = globalThis as { document?: Document; location?: Location }
    if (!document || !location || (location.protocol !== 'https:' && !isLoopbackHost(location.hostname))) {
      throw new AuthError('storage', DEV ? `cookieStorage: refused on ${location?.origin}, not an https page` : '')
    }
    return document
  }

  return {
    getItem(key) {
      const wanted = `${name(key)}=`
      const found = jar()
        .cookie.split('; ')
        .find((part) => part.startsWith(wanted))
      try {
        // An empty value is a deleted cookie some engines still list; we never write one.
        return found?.slice(wanted.length) ? decodeURIComponent(found.slice(wanted.length)) : null
      } catch {
        return null // mangled: the client treats it as no session and removes it
      }
    },
    setItem(key, value) {
      // Percent-encoded, so one character is one byte. Browsers silently drop a cookie whose name
      // and value pass 4096 bytes (RFC 6265 §6.1).
      const pair = `${name(key)}=${encodeURIComponent(value)}`
      if (pair.length > 4096) throw new AuthError('storage', DEV ? 'cookieStorage: the session needs a cookie over 4096 bytes; not written' : '')
      jar().cookie = pair + attributes + (maxAgeSeconds ? `; Max-Age=${maxAgeSeconds}` : '')
    },
    removeItem(key) {
      jar().cookie = `${name(key)}=${attributes}; Max-Age=0`
    },
  }
}
