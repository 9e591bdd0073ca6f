import { AuthError } from '../errors.js'
import { isLoopbackHost } from '../url.js'
import type { TokenStorage } from './TokenStorage.js'

/** How `cookieStorage` writes its cookie. */
export interface CookieStorageOptions {
  /**
   * Prefix of the cookie's name. `__Host-` makes the browser insist on `Secure`, `Path=/` and no
   * `Domain`, so a subdomain cannot plant or shadow the cookie.
   * @default '__Host-' ('__Secure-' when `domain` or a `path` other than '/' is given)
   */
  prefix?: '__Host-' | '__Secure-' | ''
  /** `Domain` attribute; none by default, so the cookie stays on this exact host. */
  domain?: string
  /** @default '/' */
  path?: string
  /** @default 'Strict' */
  sameSite?: 'Strict' | 'Lax' | 'None'
  /** `Max-Age` in seconds; by default a session cookie, gone when the browser closes. */
  maxAgeSeconds?: number
}

/** Browsers silently drop a cookie whose name and value pass this many bytes (RFC 6265 §6.1). */
const MAX_COOKIE_BYTES = 4096

const byteLength = (text: string): number => new TextEncoder().encode(text).length

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
export function cookieStorage(options: CookieStorageOptions = {}): TokenStorage {
  const path = options.path ?? '/'
  const prefix = options.prefix ?? (options.domain === undefined && path === '/' ? '__Host-' : '__Secure-')
  const sameSite = options.sameSite ?? 'Strict'
  const { domain, maxAgeSeconds } = options
  if (!['__Host-', '__Secure-', ''].includes(prefix)) {
    throw new TypeError(`cookieStorage: prefix must be '__Host-', '__Secure-' or '', got ${String(prefix)}`)
  }
  if (prefix === '__Host-' && (domain !== undefined || path !== '/')) {
    throw new TypeError(`cookieStorage: a '__Host-' cookie cannot have a domain or a path other than '/'`)
  }
  if (!['Strict', 'Lax', 'None'].includes(sameSite)) {
    throw new TypeError(`cookieStorage: sameSite must be 'Strict', 'Lax' or 'None', got ${String(sameSite)}`)
  }
  if (maxAgeSeconds !== undefined && !(Number.isInteger(maxAgeSeconds) && maxAgeSeconds > 0)) {
    throw new TypeError(`cookieStorage: maxAgeSeconds must be a positive integer, got ${String(maxAgeSeconds)}`)
  }
  for (const [name, value] of [['domain', domain], ['path', path]] as const) {
    if (value !== undefined && (typeof value !== 'string' || /[;\s,]/.test(value))) {
      throw new TypeError(`cookieStorage: ${name} must be a string without ';', ',' or spaces`)
    }
  }

  const attributes = [`Path=${path}`, domain === undefined ? '' : `Domain=${domain}`, `SameSite=${sameSite}`, 'Secure']
    .filter(Boolean)
    .join('; ')

  const cookieJar = (): Document => {
    const doc = (globalThis as { document?: Document }).document
    if (!doc) throw new AuthError('storage', 'cookieStorage: no document here, cookies are not available')
    const location = (globalThis as { location?: Location }).location
    if (location?.protocol !== 'https:' && !(location && isLoopbackHost(location.hostname))) {
      throw new AuthError('storage', `cookieStorage: refused on ${location?.origin ?? 'this page'}, which is not https`)
    }
    return doc
  }
  const cookieName = (key: string): string => prefix + encodeURIComponent(key)

  return {
    getItem(key) {
      const wanted = `${cookieName(key)}=`
      const found = cookieJar()
        .cookie.split(';')
        .map((part) => part.trim())
        .find((part) => part.startsWith(wanted))
      // An empty value is a deleted cookie some engines still list; we never write one.
      if (found === undefined || found.length === wanted.length) return null
      try {
        return decodeURIComponent(found.slice(wanted.length))
      } catch {
        return null // not ours, or mangled: the client treats it as no session and removes it
      }
    },
    setItem(key, value) {
      const pair = `${cookieName(key)}=${encodeURIComponent(value)}`
      if (byteLength(pair) > MAX_COOKIE_BYTES) {
        throw new AuthError(
          'storage',
          `cookieStorage: the session needs a ${byteLength(pair)}-byte cookie, over the browsers' ` +
            `${MAX_COOKIE_BYTES}-byte limit; it was not written (use memory or web storage)`,
        )
      }
      const maxAge = maxAgeSeconds === undefined ? '' : `; Max-Age=${maxAgeSeconds}`
      cookieJar().cookie = `${pair}; ${attributes}${maxAge}`
    },
    removeItem(key) {
      cookieJar().cookie = `${cookieName(key)}=; ${attributes}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`
    },
  }
}
